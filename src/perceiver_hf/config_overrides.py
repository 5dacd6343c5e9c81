"""Parse `key=value,...` config overrides (`perceiver-hf convert --config-overrides`, `train --config_overrides`).

Keys are the field names of a config class (`PerceiverConfig` unless another is given, e.g. `PerceiverARConfig`
for `train --task causal-lm`); each value is parsed to the field's declared type (int, float, bool as
true/false, str), and a field declared `int | None` also takes "None". Unknown keys and unparsable values raise
`ValueError` saying what is accepted; the ranges are checked when the config is made.
"""

from __future__ import annotations

from typing import Any

from .config_fields import declared_fields, type_name, value_type
from .configuration_perceiver import PerceiverConfig

_NONE = {"none", "null"}
_TRUE = {"true", "1", "y", "yes"}  # the words transformers' `PreTrainedConfig.update_from_string` reads
_FALSE = {"false", "0", "n", "no"}


def config_fields(config_class: type = PerceiverConfig) -> list[str]:
    """The field names of `config_class` that overrides accept."""
    return [field.name for field in declared_fields(config_class)]


def _split(text: str, fields: list[str], class_name: str) -> dict[str, str]:
    pairs: dict[str, str] = {}
    for part in text.split(","):
        key, separator, value = part.partition("=")
        key, value = key.strip(), value.strip()
        if not separator or not key or "=" in value:
            raise ValueError(f"config overrides: {part.strip()!r} is not of the form key=value.")
        if key not in fields:
            raise ValueError(
                f"config overrides: unknown key {key!r}. Valid keys ({class_name} fields): {', '.join(fields)}."
            )
        pairs[key] = value
    return pairs


def _typed_value(key: str, value: str, config_class: type) -> Any:
    field = next(f for f in declared_fields(config_class) if f.name == key)
    kind, optional = value_type(field), type_name(field)[1]
    if optional and value.lower() in _NONE:
        return None
    if kind is bool:
        if value.lower() not in _TRUE | _FALSE:
            raise ValueError(f"config overrides: {key}={value!r} is not a boolean (true or false).")
        return value.lower() in _TRUE
    try:
        return kind(value)
    except ValueError:
        raise ValueError(f"config overrides: {key}={value!r} is not a valid {kind.__name__}.") from None


def parse_config_overrides(text: str | None, config_class: type = PerceiverConfig) -> dict[str, Any]:
    """`"num_self_attention_heads=4,num_self_attention_blocks=2"` -> `{"num_self_attention_heads": 4, ...}`.

    Raises:
        ValueError: a part is not `key=value`, a key is not a field of `config_class`, or a value does not parse.
    """
    if not text or not text.strip():
        return {}
    pairs = _split(text, config_fields(config_class), config_class.__name__)
    return {key: _typed_value(key, value, config_class) for key, value in pairs.items()}


__all__ = ["config_fields", "parse_config_overrides"]
