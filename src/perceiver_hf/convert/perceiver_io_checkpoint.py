"""Read a perceiver-io library (0.4) checkpoint without running code from it.

A Lightning `.ckpt` is a torch pickle: `torch.load(weights_only=True)` with an allow-list of the few classes
Lightning stores there besides tensors and containers (the library's config dataclasses in `hyper_parameters`,
Lightning's `AttributeDict`). Each is read into a plain stand-in (`LibraryObject`): no class of the library, of
Lightning or of the file is imported or run, and any other global refuses the file with one message.
A plain state dict is read the same way (tensors only) and its settings come from a JSON file.
"""

from __future__ import annotations

import json
import pickle
import re
from pathlib import Path
from types import MappingProxyType
from typing import Any, Mapping, Optional

import torch

from .errors import ConversionError, UnsafePickleError
from .settings_graph import plain_settings
from .tensor_sizes import check_tensor_sizes

TEXT_CONFIGS = {
    "perceiver.model.text.common.TextEncoderConfig": "encoder",
    "perceiver.model.text.language.TextDecoderConfig": "masked language model decoder",
    "perceiver.model.core.config.ClassificationDecoderConfig": "text classifier decoder",
    "perceiver.model.core.config.EncoderConfig": "encoder",
    "perceiver.model.core.config.DecoderConfig": "decoder",
}
"""The library's config dataclasses a text model's `hyper_parameters` hold -> what they configure."""
LIGHTNING_OBJECTS = ("pytorch_lightning.utilities.parsing.AttributeDict", "lightning_fabric.utilities.data.AttributeDict")
UNSUPPORTED_KINDS = {
    r"^perceiver\.model\.image\.": "an image classifier (perceiver.model.image)",
    r"^perceiver\.model\.vision\.optical_flow": "an optical flow model (perceiver.model.vision.optical_flow)",
    r"^perceiver\.model\.vision\.": "a vision model (perceiver.model.vision)",
    r"^perceiver\.model\.text\.clm": "a causal language model (perceiver.model.text.clm, perceiver-io >= 0.8)",
    r"^perceiver\.model\.audio\.": "an audio model (perceiver.model.audio)",
}
SUPPORTED = ("perceiver-io 0.4 text models: LitLanguageModel / LitTextClassifier checkpoints or LanguageModel / "
             "TextClassifier state dicts")


class LibraryObject:
    """What an allow-listed object of the checkpoint becomes: its pickled state, nothing else.

    The state is kept in one slot, never as attributes, so a field named like a method (`fields`,
    `__setstate__`, ...) stays a field."""

    __slots__ = ("_state",)
    library_name = ""

    def __setstate__(self, state: Any) -> None:
        fields = dict(state) if isinstance(state, Mapping) else {"state": state}
        object.__setattr__(self, "_state", {**getattr(self, "_state", {}), **fields})

    def fields(self) -> Mapping[str, Any]:
        """The object's fields (a dataclass pickles its `__dict__`), read-only."""
        return MappingProxyType(getattr(self, "_state", {}))


class AttributeDictStandIn(dict):
    """Lightning's `AttributeDict` (a dict) read as a plain dict."""


def _allow_list() -> list[tuple[type, str]]:
    objects = [(type(name.rsplit(".", 1)[1], (LibraryObject,), {"library_name": name}), name) for name in TEXT_CONFIGS]
    return objects + [(AttributeDictStandIn, name) for name in LIGHTNING_OBJECTS]


def _refused(path: Path, error: Exception) -> ConversionError:
    found = re.search(r"GLOBAL ([\w.]+)", str(error))
    if not found:
        return ConversionError(f"{path} is not a readable torch checkpoint ({str(error).splitlines()[0]}).")
    name = found.group(1)
    for pattern, kind in UNSUPPORTED_KINDS.items():
        if re.search(pattern, name):
            return ConversionError(f"{path} holds {kind} ({name}); supported: {SUPPORTED}.")
    return UnsafePickleError(
        f"{path} refers to {name}, which a perceiver-io text checkpoint never needs; nothing from the file was run. "
        f"Allowed besides tensors and containers: {sorted([*TEXT_CONFIGS, *LIGHTNING_OBJECTS])}. Supported: {SUPPORTED}."
    )


def load_torch_file(path: Path) -> Any:
    """`torch.load(path, weights_only=True)` with the allow-list; a refused global raises one clear error, and so
    does a file that is empty or not a torch file."""
    if not path.is_file():
        raise ConversionError(f"{path} does not exist or is not a file.")
    if path.stat().st_size == 0:
        raise ConversionError(f"{path} is empty (0 bytes); copy or download the checkpoint again.")
    try:
        with torch.serialization.safe_globals(_allow_list()):
            return torch.load(path, map_location="cpu", weights_only=True, mmap=False)
    except pickle.UnpicklingError as error:
        raise _refused(path, error) from None
    except RecursionError:
        raise ConversionError(f"{path} is not a readable torch checkpoint (its objects are nested too deeply); "
                              "the file is corrupt or hostile.") from None
    except Exception as error:  # anything torch raises on bad data: RuntimeError, EOFError, IndexError, ...
        problem = (str(error).splitlines() or [type(error).__name__])[0]
        raise ConversionError(f"{path} is not a readable torch checkpoint ({problem}).") from None


def _settings_fields(obj: Any) -> Optional[Mapping[str, Any]]:
    return obj.fields() if isinstance(obj, LibraryObject) else None


def read_checkpoint(path: Path, settings_json: Optional[Path] = None) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """(state dict without the Lightning "model." prefix, settings) of a `.ckpt` or of a state dict + JSON.

    The settings are {"encoder": {...}, "decoder": {...}, "num_latents": N, "num_latent_channels": D}: the
    checkpoint's `hyper_parameters`, or `settings_json` (required for a plain state dict, ignored otherwise).
    """
    loaded = load_torch_file(path)
    if not isinstance(loaded, Mapping):
        raise ConversionError(f"{path} holds a {type(loaded).__name__}, not a checkpoint dict; supported: {SUPPORTED}.")
    if "state_dict" in loaded:  # a Lightning checkpoint
        hyper_parameters = loaded.get("hyper_parameters")
        if not isinstance(hyper_parameters, Mapping):
            raise ConversionError(f"{path} is a Lightning checkpoint without hyper_parameters; pass the model settings "
                                  "as JSON with --config and the state dict alone.")
        settings = (plain_settings(hyper_parameters, repr(str(path)), _settings_fields) if settings_json is None
                    else read_settings(settings_json))
        state_dict = loaded["state_dict"]
    else:
        if settings_json is None:
            raise ConversionError(f"{path} is a plain state dict: give the TextEncoderConfig/TextDecoderConfig values "
                                  "as JSON with --config SETTINGS.json (see docs/perceiver-io.md).")
        settings, state_dict = read_settings(settings_json), loaded
    if not isinstance(state_dict, Mapping):
        raise ConversionError(f"{path}'s state_dict is a {type(state_dict).__name__}, not a mapping of tensors.")
    tensors = {name: value for name, value in state_dict.items() if isinstance(value, torch.Tensor)}
    if len(tensors) != len(state_dict) or not all(isinstance(name, str) for name in tensors):
        raise ConversionError(f"{path}'s state dict holds values that are not tensors; supported: {SUPPORTED}.")
    check_tensor_sizes(tensors, path)
    if tensors and all(name.startswith("model.") for name in tensors):
        tensors = {name[len("model."):]: value for name, value in tensors.items()}
    return tensors, settings


def read_settings(path: Path) -> dict[str, Any]:
    """The JSON model settings: {"encoder": {...}, "decoder": {...}, "num_latents": N, "num_latent_channels": D}."""
    try:
        settings = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise ConversionError(f"Cannot read the model settings {path}: {error}.") from None
    except RecursionError:
        raise ConversionError(f"Cannot read the model settings {path}: nested too deeply.") from None
    if not isinstance(settings, dict):
        raise ConversionError(f"{path} must hold a JSON object with encoder, decoder, num_latents, num_latent_channels.")
    return plain_settings(settings, repr(str(path)))
