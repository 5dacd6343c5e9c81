"""Parse `key=value,...` config overrides (`perceiver-hf convert --config-overrides`, `train --config_overrides`).

Values are typed by transformers' `PreTrainedConfig.update_from_string` (int, float, bool, str, from the type
of the field's default); the fields whose default is None (`Optional[int]` widths) take an int or "None".
Keys are `PerceiverConfig.__init__` argument names. Unknown keys and unparsable values raise `ValueError`
saying what is accepted.
"""

from __future__ import annotations

import inspect
import typing
from typing import Any

from .configuration_perceiver import PerceiverConfig

_NONE = {"none", "null"}


def config_fields() -> list[str]:
    """The `PerceiverConfig` field names that overrides accept (its `__init__` arguments)."""
    parameters = inspect.signature(PerceiverConfig.__init__).parameters
    return [
        name
        for name, parameter in parameters.items()
        if name != "self" and parameter.kind is inspect.Parameter.POSITIONAL_OR_KEYWORD
    ]


def _optional_fields() -> set[str]:
    """The fields annotated `Optional[...]`: they also accept None."""
    hints = typing.get_type_hints(PerceiverConfig.__init__)
    return {name for name, hint in hints.items() if type(None) in typing.get_args(hint)}


def _split(text: str, fields: list[str]) -> dict[str, str]:
    pairs: dict[str, str] = {}
    for part in text.split(","):
        key, separator, value = part.partition("=")
        key, value = key.strip(), value.strip()
        if not separator or not key or "=" in value:
            raise ValueError(f"config overrides: {part.strip()!r} is not of the form key=value.")
        if key not in fields:
            raise ValueError(
                f"config overrides: unknown key {key!r}. Valid keys (PerceiverConfig fields): {', '.join(fields)}."
            )
        pairs[key] = value
    return pairs


def _typed_value(defaults: PerceiverConfig, key: str, value: str, optional: bool) -> Any:
    if optional and value.lower() in _NONE:
        return None
    default = getattr(defaults, key)
    if default is None:  # an Optional[int] width whose default is None: anything but None is an int
        default = 0
        setattr(defaults, key, default)
    kind = type(default).__name__
    try:
        defaults.update_from_string(f"{key}={value}")
    except ValueError:
        what = "a boolean (true or false)" if isinstance(default, bool) else f"a valid {kind}"
        raise ValueError(f"config overrides: {key}={value!r} is not {what}.") from None
    return getattr(defaults, key)


def parse_config_overrides(text: str | None) -> dict[str, Any]:
    """`"num_self_attention_heads=4,num_self_attention_blocks=2"` -> `{"num_self_attention_heads": 4, ...}`.

    Raises:
        ValueError: a part is not `key=value`, a key is not a `PerceiverConfig` field, or a value does not parse.
    """
    if not text or not text.strip():
        return {}
    pairs = _split(text, config_fields())
    defaults = PerceiverConfig()  # carries each field's type; update_from_string parses into it
    optional = _optional_fields()
    return {key: _typed_value(defaults, key, value, key in optional) for key, value in pairs.items()}


__all__ = ["config_fields", "parse_config_overrides"]
