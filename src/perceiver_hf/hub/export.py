"""Write a Hub-ready folder: weights, config with `auto_map`, tokenizer, model card and self-contained code.

The folder loads with plain transformers in a Python without perceiver-hf:

    AutoModelForMaskedLM.from_pretrained(folder, trust_remote_code=True)
    AutoTokenizer.from_pretrained(folder, trust_remote_code=True)
    pipeline("fill-mask", model=folder, trust_remote_code=True)

and, where perceiver-hf is installed, with the package's own classes (no remote code needed).
"""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path
from typing import Any, Optional

from .bundle import PACKAGE, bundle_modules, flat_name, write_bundle

CONFIG_FILE = "config.json"
TOKENIZER_CONFIG_FILE = "tokenizer_config.json"
MODEL_CARD_FILE = "README.md"


def auto_map_entry(cls: type) -> str:
    """The `auto_map` reference of a package class in the bundled folder, e.g. "modeling_perceiver.PerceiverModel"."""
    return f"{flat_name(cls.__module__)}.{cls.__qualname__}"


def model_auto_classes() -> dict[str, type]:
    """The Auto classes a Perceiver IO checkpoint loads with, and the package class each one maps to."""
    from ..configuration_perceiver import PerceiverConfig
    from ..modeling_perceiver import PerceiverForMaskedLM, PerceiverModel

    return {"AutoConfig": PerceiverConfig, "AutoModel": PerceiverModel, "AutoModelForMaskedLM": PerceiverForMaskedLM}


def _is_package_class(cls: type) -> bool:
    return cls.__module__.split(".")[0] == PACKAGE


def _check_inputs(model: Any, tokenizer: Any) -> None:
    from ..modeling_perceiver import PerceiverPreTrainedModel

    if not isinstance(model, PerceiverPreTrainedModel):
        raise TypeError(
            f"export_for_hub needs a perceiver-hf model (PerceiverForMaskedLM or PerceiverModel), got "
            f"{type(model).__name__}; save other models with their own save_pretrained."
        )
    if tokenizer is not None:
        module = type(tokenizer).__module__
        if not (_is_package_class(type(tokenizer)) or module.split(".")[0] == "transformers"):
            raise TypeError(
                f"Cannot ship the code of tokenizer class {type(tokenizer).__name__} (module {module}): remote code "
                "can only carry perceiver-hf's own classes. Use a transformers tokenizer (e.g. PreTrainedTokenizerFast "
                "around a tokenizer.json) or PerceiverByteTokenizer."
            )


def _prepare_output(output_dir: Path, overwrite: bool) -> None:
    if output_dir.exists() and not output_dir.is_dir():
        raise FileExistsError(f"{output_dir} exists and is not a folder; choose another output path.")
    if output_dir.is_dir() and any(output_dir.iterdir()) and not overwrite:
        raise FileExistsError(
            f"{output_dir} already exists and is not empty; choose a new folder, or pass overwrite=True "
            "(--overwrite) to replace it."
        )
    output_dir.parent.mkdir(parents=True, exist_ok=True)


def _update_json(path: Path, **entries: Any) -> None:
    """Set top-level `entries` in a JSON file, written like transformers writes it (indent 2, sorted keys)."""
    data = json.loads(path.read_text(encoding="utf-8"))
    data.update(entries)
    path.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n", encoding="utf-8")


def _write_folder(
    folder: Path, model: Any, tokenizer: Any, model_card: Optional[str], max_shard_size: Optional[int | str]
) -> None:
    """Everything `export_for_hub` writes, into an (empty) staging folder."""
    save_kwargs = {} if max_shard_size is None else {"max_shard_size": max_shard_size}
    model.save_pretrained(folder, **save_kwargs)
    classes = model_auto_classes()
    auto_map: dict[str, Any] = {name: auto_map_entry(cls) for name, cls in classes.items()}
    entry_modules = {cls.__module__ for cls in classes.values()}
    if tokenizer is not None:
        tokenizer.save_pretrained(folder)
        if _is_package_class(type(tokenizer)):
            # transformers' convention for a tokenizer class without a "Fast" suffix: [class, None]
            auto_map["AutoTokenizer"] = [auto_map_entry(type(tokenizer)), None]
            entry_modules.add(type(tokenizer).__module__)
            _update_json(folder / TOKENIZER_CONFIG_FILE, auto_map={"AutoTokenizer": auto_map["AutoTokenizer"]})
    _update_json(folder / CONFIG_FILE, auto_map=auto_map)
    write_bundle(bundle_modules(sorted(entry_modules)), folder)
    if model_card is not None:
        (folder / MODEL_CARD_FILE).write_text(model_card, encoding="utf-8")


def export_for_hub(
    model: Any,
    output_dir: str | Path,
    tokenizer: Any = None,
    *,
    model_card: Optional[str] = None,
    max_shard_size: Optional[int | str] = None,
    overwrite: bool = False,
) -> Path:
    """Write `model` (and `tokenizer`) as a folder that loads anywhere with `trust_remote_code=True`.

    The folder holds the safetensors weights (sharded if `max_shard_size` is given), config.json with an
    `auto_map`, the tokenizer files (tokenizer_config.json with an `auto_map` when the tokenizer is
    perceiver-hf's), the self-contained code generated by `perceiver_hf.hub.bundle`, and README.md if
    `model_card` is given. It is written next to `output_dir` first and moved into place at the end, so a
    failure leaves nothing half-written and an existing folder untouched.

    Args:
        model: a `PerceiverForMaskedLM` or `PerceiverModel`.
        output_dir: the folder to create (must be absent or empty unless `overwrite`).
        tokenizer: the model's tokenizer (`PerceiverByteTokenizer` or any transformers tokenizer), or None.
        model_card: text of README.md (Hub metadata + card), or None.
        max_shard_size: e.g. "200MB" to split the weights into several safetensors files.
        overwrite: replace a non-empty `output_dir`.

    Returns:
        The output folder.
    """
    _check_inputs(model, tokenizer)
    output_dir = Path(output_dir)
    _prepare_output(output_dir, overwrite)
    staging = Path(tempfile.mkdtemp(prefix=f".{output_dir.name}.", suffix=".partial", dir=output_dir.parent))
    try:
        _write_folder(staging, model, tokenizer, model_card, max_shard_size)
        if output_dir.exists():
            previous = output_dir.with_name(staging.name + ".old")
            output_dir.rename(previous)
            staging.rename(output_dir)
            shutil.rmtree(previous)
        else:
            staging.rename(output_dir)
    finally:
        if staging.exists():
            shutil.rmtree(staging)
    return output_dir


__all__ = ["auto_map_entry", "export_for_hub", "model_auto_classes"]
