"""Clear errors for `from_pretrained` on something that is not a readable Perceiver IO checkpoint.

transformers on its own (5.x) silently builds a default-size model when config.json is missing, only warns when
config.json is of another model type (then initialises every weight randomly), and reports a corrupted
safetensors file as "Error while deserializing header" without saying which file or what to do. An explicit
device_map that puts one side of a tied weight on "disk" fails deep inside accelerate. These checks run before
and around `PreTrainedModel.from_pretrained` and turn those cases into errors that say what is wrong.
Only transformers, huggingface_hub and safetensors are used, so the checks also work in exported remote code.
"""

from __future__ import annotations

import os
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator, Optional

from huggingface_hub import try_to_load_from_cache
from safetensors import SafetensorError, safe_open
from transformers import PreTrainedConfig

from .strict_loading import (
    PipelineWeightsMismatchError,
    WeightsMismatchError,
    check_config_fits_weights,
    loading_for_a_pipeline,
)

# from_pretrained keyword arguments that say where config.json comes from
HUB_KWARGS = ("cache_dir", "force_download", "proxies", "token", "revision", "local_files_only", "subfolder")


def _describe(name_or_path: Any, kwargs: dict[str, Any]) -> str:
    revision = kwargs.get("revision")
    return f"{str(name_or_path)!r}" + (f" (revision {revision!r})" if revision else "")


def check_pretrained_config(
    model_type: str, class_name: str, name_or_path: Any, kwargs: dict[str, Any]
) -> Optional[dict[str, Any]]:
    """Raise OSError/ValueError unless `name_or_path` has a config.json of `model_type`; return its contents.

    Skipped (returns None) when the caller passes its own `config` (then config.json is not read) or loads a
    single file.

    Args:
        model_type: the model type the loading class needs ("perceiver_io").
        class_name: the loading class, for the message.
        name_or_path: what was passed to `from_pretrained` (folder or Hub repo id).
        kwargs: the other `from_pretrained` keyword arguments (revision, cache_dir, subfolder, ...).
    """
    if name_or_path is None or kwargs.get("config") is not None or kwargs.get("gguf_file"):
        return None
    if os.path.isfile(str(name_or_path)):
        return None
    hub_kwargs = {key: kwargs[key] for key in HUB_KWARGS if key in kwargs}
    where = _describe(name_or_path, kwargs)
    try:
        config_dict, _ = PreTrainedConfig.get_config_dict(name_or_path, **hub_kwargs)
    except OSError as error:  # transformers' message does not always say which revision it looked for
        raise OSError(f"Cannot load the config.json of {where}: {error}") from error
    if not config_dict:
        raise OSError(
            f"{where} has no config.json, so it is not a saved model. Pass a folder written by save_pretrained "
            "or `perceiver-hf export-hub` (or a Hub repository id, with the right revision)."
        )
    found = config_dict.get("model_type")
    if found == model_type:
        return config_dict
    if found == "perceiver":
        raise ValueError(
            f"{where} is a checkpoint of transformers' own Perceiver (model_type 'perceiver'), not a perceiver-hf "
            f"one (model_type {model_type!r}). Load it with transformers.PerceiverForMaskedLM, or convert it "
            "with `perceiver-hf convert` (see `perceiver-hf convert --help`)."
        )
    if isinstance(found, str) and found.startswith(("perceiver-io-", "perceiver-ar-")):
        raise ValueError(
            f"{where} is a model of the perceiver-io library (model_type {found!r}), not a perceiver-hf one; "
            "convert it with `perceiver-hf convert perceiver-io SOURCE OUTPUT_DIR` (masked LMs and text "
            "classifiers), then load OUTPUT_DIR."
        )
    raise ValueError(
        f"{where} holds a model of type {found!r}, but {class_name} loads model_type {model_type!r}; its weights "
        f"would not fit. Load it with AutoModelForMaskedLM / AutoModel (which pick the class for {found!r}), or "
        "pass a Perceiver IO checkpoint."
    )


def _device_of(name: str, device_map: dict[str, Any]) -> Any:
    """The device `device_map` gives parameter `name`: the entry of the longest module prefix (or "")."""
    matches = [key for key in device_map if key == "" or name == key or name.startswith(key + ".")]
    return device_map[max(matches, key=len)] if matches else None


def check_device_map(device_map: Any, tied_weights: Optional[dict[str, str]]) -> None:
    """Raise ValueError if an explicit `device_map` puts one side of a tied weight on "disk" and the other elsewhere.

    accelerate cannot load such a split (it fails with a KeyError or "weight is on the meta device").

    Args:
        device_map: the `device_map` passed to `from_pretrained` (only dicts are checked).
        tied_weights: {tied parameter: parameter it shares}, e.g. the model class' `_tied_weights_keys`.
    """
    if not isinstance(device_map, dict) or not tied_weights:
        return
    for target, source in tied_weights.items():
        devices = (_device_of(target, device_map), _device_of(source, device_map))
        if devices[0] != devices[1] and "disk" in devices:
            raise ValueError(
                f"device_map puts {target} on {devices[0]!r} and {source} on {devices[1]!r}, but they are one tied "
                f"weight; give the modules holding them ({target.rpartition('.')[0]} and {source.rpartition('.')[0]}) "
                "the same device."
            )


def _quantized(config: Any, config_dict: Optional[dict[str, Any]], kwargs: dict[str, Any]) -> bool:
    """Whether the load reads or makes quantized weights (a `quantization_config` anywhere)."""
    found = (getattr(config, "quantization_config", None), kwargs.get("quantization_config"),
             (config_dict or {}).get("quantization_config"))  # fmt: skip
    return any(value is not None for value in found)


def check_pretrained_arguments(model_class: Any, name_or_path: Any, kwargs: dict[str, Any]) -> None:
    """The checks `PerceiverPreTrainedModel.from_pretrained` runs before loading: config.json, device map, and the
    config's sizes against the shapes in the safetensors headers (`strict_loading.check_config_fits_weights`)."""
    config_dict = check_pretrained_config(
        model_class.config_class.model_type, model_class.__name__, name_or_path, kwargs
    )
    config = kwargs.get("config")
    if isinstance(config, PreTrainedConfig):
        tied = getattr(config, "tie_word_embeddings", True)
    else:
        tied = (config_dict or {}).get("tie_word_embeddings", True)
    check_device_map(kwargs.get("device_map"), getattr(model_class, "_tied_weights_keys", None) if tied else None)
    if not kwargs.get("gguf_file"):
        quantized = _quantized(config, config_dict, kwargs)  # packed weights: other shapes than the parameters
        check_config_fits_weights(
            model_class,
            checkpoint_folder(name_or_path, kwargs),
            config_dict,
            config=config if isinstance(config, PreTrainedConfig) else None,
            allow_mismatched=bool(kwargs.get("ignore_mismatched_sizes", False)) or quantized,
            where=repr(str(name_or_path)),
            error=PipelineWeightsMismatchError if loading_for_a_pipeline() else WeightsMismatchError,
        )


def checkpoint_folder(name_or_path: Any, kwargs: dict[str, Any]) -> Optional[Path]:
    """The local folder holding the checkpoint files: the folder itself, or the Hub cache snapshot (None if not
    cached)."""
    subfolder = kwargs.get("subfolder") or ""
    if os.path.isdir(str(name_or_path)):
        return Path(name_or_path) / subfolder
    cached = try_to_load_from_cache(
        str(name_or_path),
        os.path.join(subfolder, "config.json"),
        cache_dir=kwargs.get("cache_dir"),
        revision=kwargs.get("revision"),
    )
    return Path(cached).parent if isinstance(cached, str) else None


def unreadable_safetensors(folder: Path) -> list[str]:
    """Names of the *.safetensors files in `folder` whose header safetensors cannot read."""
    bad = []
    for path in sorted(folder.glob("*.safetensors")):
        try:
            with safe_open(str(path), framework="pt"):
                pass
        except (SafetensorError, OSError):
            bad.append(path.name)
    return bad


@contextmanager
def readable_weights(name_or_path: Any, kwargs: dict[str, Any]) -> Iterator[None]:
    """Turn a `SafetensorError` raised while loading into an OSError naming the broken file(s) and the fix."""
    try:
        yield
    except SafetensorError as error:
        folder = checkpoint_folder(name_or_path, kwargs)
        bad = unreadable_safetensors(folder) if folder is not None and folder.is_dir() else []
        files = ", ".join(bad) if bad else "a safetensors weights file"
        remote = not os.path.isdir(str(name_or_path))
        fix = (
            "Download it again with from_pretrained(..., force_download=True)."
            if remote
            else "Save or download the model again (the file is corrupted or incomplete, e.g. an interrupted copy)."
        )
        raise OSError(
            f"Cannot read the weights of {_describe(name_or_path, kwargs)}: {files} is not a valid safetensors "
            f"file ({error}). {fix}"
        ) from error


__all__ = [
    "check_device_map",
    "checkpoint_folder",
    "check_pretrained_arguments",
    "check_pretrained_config",
    "readable_weights",
    "unreadable_safetensors",
]
