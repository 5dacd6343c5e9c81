"""Checks of a `convert transformers` SOURCE before and while it is loaded: one-line `ConversionError`s.

A SOURCE that is a file, an unreadable config.json, config values transformers would crash on (negative or
non-integer sizes, an unknown `hidden_act`), a missing or corrupted weights file and weights whose shapes do not
fit config.json each become one message naming the file, the problem and the fix (instead of a traceback from
deep inside transformers or safetensors).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Optional

from ..core.layers import ACTIVATIONS
from ..loading_checks import checkpoint_folder, unreadable_safetensors
from ..strict_loading import header_shapes, mismatched_header_shapes, oversized_config_values
from .errors import ConversionError

SIZE_FIELDS = (
    "vocab_size",
    "max_position_embeddings",
    "d_model",
    "d_latents",
    "num_latents",
    "num_blocks",
    "num_self_attends_per_block",
    "num_self_attention_heads",
    "num_cross_attention_heads",
    "cross_attention_widening_factor",
    "self_attention_widening_factor",
)
"""transformers `PerceiverConfig` fields that must be positive integers."""
OPTIONAL_SIZE_FIELDS = ("qk_channels", "v_channels")
"""Fields that must be positive integers when set (None means "same as the input")."""
WEIGHT_FILES = ("model.safetensors", "model.safetensors.index.json", "pytorch_model.bin", "pytorch_model.bin.index.json")
_REMAKE = "save the source again with transformers' save_pretrained (or download it again)"


def _config_file(source: str) -> str:
    return str(Path(source) / "config.json") if Path(source).is_dir() else f"config.json of {source!r}"


def check_source_location(source: str) -> None:
    """Refuse a SOURCE that is a file: it must be a folder (or a Hub id)."""
    if Path(source).is_file():
        raise ConversionError(
            f"SOURCE {source} is a file; pass the folder that holds config.json and model.safetensors "
            "(what transformers' save_pretrained writes), or a Hub model id."
        )


def load_source_config(source: str, revision: Optional[str]) -> Any:
    """transformers' config of `source`; any failure to read or parse it is one `ConversionError` line."""
    from huggingface_hub.errors import StrictDataclassError
    from transformers import AutoConfig

    try:
        return AutoConfig.from_pretrained(source, revision=revision)
    except (OSError, ValueError, TypeError, KeyError, StrictDataclassError) as error:
        problem = " ".join(str(error).split())
        raise ConversionError(
            f"{_config_file(source)}: cannot load a transformers config ({problem}). SOURCE must be a folder with "
            "a valid config.json or a Hub model id (cached, or reachable online)."
        ) from error


def check_source_config(source: str, config: Any) -> None:
    """Refuse config values transformers' `PerceiverForMaskedLM` cannot be built with (before building it)."""
    where = _config_file(source)
    for field in SIZE_FIELDS + OPTIONAL_SIZE_FIELDS:
        value = getattr(config, field, None)
        if value is None and field in OPTIONAL_SIZE_FIELDS:
            continue
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ConversionError(
                f"{where}: {field} must be a positive integer, got {value!r}. Fix it in config.json (the value the "
                f"weights were trained with), or {_REMAKE}."
            )
    if not isinstance(config.hidden_act, str) or config.hidden_act not in ACTIVATIONS:
        raise ConversionError(
            f"{where}: hidden_act {config.hidden_act!r} is not one of {sorted(ACTIVATIONS)}. Fix it in config.json "
            f"(transformers' Perceiver uses 'gelu'), or {_REMAKE}."
        )


def check_weight_files(source: str) -> None:
    """For a local folder: refuse one without weights, or with a safetensors file that cannot be read."""
    folder = Path(source)
    if not folder.is_dir():
        return
    if not any((folder / name).is_file() for name in WEIGHT_FILES):
        raise ConversionError(
            f"{folder / 'model.safetensors'} does not exist (nor does any other weights file: "
            f"{', '.join(WEIGHT_FILES[1:])}); {_REMAKE}."
        )
    bad = unreadable_safetensors(folder)
    if bad:
        raise ConversionError(
            f"{folder / bad[0]} is not a readable safetensors file (empty, truncated or corrupted); {_REMAKE}."
        )


def check_config_fits_weights(source: str, revision: Optional[str], config: Any, model_class: Any) -> None:
    """Before `model_class.from_pretrained` allocates: refuse a config.json whose sizes exceed what the
    safetensors weights hold in all, or whose model's weights would have other shapes than the headers say
    (the model built on the meta device). Skipped where no local safetensors checkpoint is found."""
    folder = Path(source) if Path(source).is_dir() else checkpoint_folder(source, {"revision": revision})
    header = header_shapes(folder) if folder is not None else None
    if header is None:
        return
    num_values = sum(math.prod(shape) for shape in header.values())
    oversized = oversized_config_values(config.to_dict(), num_values)
    if oversized:
        field, value = oversized[0]
        raise ConversionError(
            f"{_config_file(source)} says {field}={value:,}, but the weights hold {num_values:,} values in all, so no "
            f"size of the model can be that large. Restore the config.json saved with these weights, or {_REMAKE}."
        )
    check_loaded_shapes(source, {"mismatched_keys": mismatched_header_shapes(model_class, config, header)})


def check_loaded_shapes(source: str, info: dict[str, Any]) -> None:
    """Refuse weights whose shapes do not fit config.json (transformers' loading info `mismatched_keys`)."""
    mismatched = sorted(info.get("mismatched_keys") or (), key=str)
    if not mismatched:
        return
    key, checkpoint, expected = mismatched[0]
    more = f" (and {len(mismatched) - 1} more)" if len(mismatched) > 1 else ""
    raise ConversionError(
        f"{_config_file(source)} does not describe the weights: {key} is {list(checkpoint)} in the weights file but "
        f"config.json implies {list(expected)}{more}. Restore the config.json saved with these weights, or {_REMAKE}."
    )


__all__ = [
    "check_config_fits_weights",
    "check_loaded_shapes",
    "check_source_config",
    "check_source_location",
    "check_weight_files",
    "load_source_config",
]
