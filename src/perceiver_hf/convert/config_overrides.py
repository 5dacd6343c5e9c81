"""Parse `--config-overrides key=value,...` into typed `PerceiverConfig` fields (as transformers' run_mlm.py does).

Keys are `PerceiverConfig.__init__` argument names; each value is parsed to that argument's annotated type
(int, float, bool, str, or None for Optional fields). Unknown keys and unparsable values raise `ValueError`
listing what is accepted.
"""

from __future__ import annotations

import inspect
import typing
from typing import Any, Union

from ..configuration_perceiver import PerceiverConfig

_NONE = {"none", "null"}
_BOOLS = {"true": True, "1": True, "yes": True, "false": False, "0": False, "no": False}


def config_fields() -> dict[str, Any]:
    """`PerceiverConfig` field name -> its type annotation (the keys `--config-overrides` accepts)."""
    hints = typing.get_type_hints(PerceiverConfig.__init__)
    parameters = inspect.signature(PerceiverConfig.__init__).parameters
    return {
        name: hints.get(name, str)
        for name, parameter in parameters.items()
        if name != "self" and parameter.kind is inspect.Parameter.POSITIONAL_OR_KEYWORD
    }


def _parse_value(key: str, text: str, annotation: Any) -> Any:
    options = typing.get_args(annotation) if typing.get_origin(annotation) is Union else (annotation,)
    if type(None) in options and text.strip().lower() in _NONE:
        return None
    kind = next(option for option in options if option is not type(None))
    text = text.strip()
    if kind is bool:
        if text.lower() not in _BOOLS:
            raise ValueError(f"--config-overrides: {key}={text!r} is not a boolean; use true or false.")
        return _BOOLS[text.lower()]
    if kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            raise ValueError(f"--config-overrides: {key}={text!r} is not a valid {kind.__name__}.") from None
    return text


def parse_config_overrides(text: str | None) -> dict[str, Any]:
    """`"num_self_attention_heads=4,num_self_attention_blocks=2"` -> `{"num_self_attention_heads": 4, ...}`.

    Raises:
        ValueError: a part is not `key=value`, a key is not a `PerceiverConfig` field, or a value does not parse.
    """
    if not text or not text.strip():
        return {}
    fields = config_fields()
    overrides: dict[str, Any] = {}
    for part in text.split(","):
        key, separator, value = part.partition("=")
        key = key.strip()
        if not separator or not key:
            raise ValueError(f"--config-overrides: {part.strip()!r} is not of the form key=value.")
        if key not in fields:
            raise ValueError(
                f"--config-overrides: unknown key {key!r}. Valid keys (PerceiverConfig fields): {', '.join(fields)}."
            )
        overrides[key] = _parse_value(key, value, fields[key])
    return overrides
