"""The type of every perceiver-io library setting, checked before any value is compared or used.

The kind of a field follows from its default in `perceiver_io_versions` (a bool default: true or false; an int:
a positive integer; None: a positive integer or null; a float: a number, dropout in [0, 1)), with the
few exceptions in `KINDS`. A wrong value is one `ConversionError` naming the field, what it holds and what it
must hold.
"""

from __future__ import annotations

import math
from typing import Any, Callable, Mapping

from .errors import ConversionError

Check = Callable[[Any], bool]


def _positive_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 1


def _optional_positive_int(value: Any) -> bool:
    return value is None or _positive_int(value)


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _probability(value: Any) -> bool:
    return _number(value) and 0 <= value < 1


def _optional_text(value: Any) -> bool:
    return value is None or isinstance(value, str)


def _bool(value: Any) -> bool:
    return isinstance(value, bool)


KINDS: dict[str, tuple[Check, str]] = {
    "dropout": (_probability, "a number in [0, 1)"),
    "params": (_optional_text, "null or a checkpoint name"),
    "num_output_query_channels": (_optional_positive_int, "a positive integer or null"),  # unset: the library's own
}
"""Fields whose kind does not follow from their default."""


def _kind_of(default: Any) -> tuple[Check, str]:
    if isinstance(default, bool):
        return _bool, "true or false"
    if isinstance(default, int):
        return _positive_int, "a positive integer"
    if isinstance(default, float):
        return _number, "a finite number"
    return _optional_positive_int, "a positive integer or null"


def check_field_types(values: Mapping[str, Any], defaults: Mapping[str, Any], what: str) -> None:
    """Raise a one-line `ConversionError` for the first field of `values` whose value is not of the kind its
    default (in `defaults`) or `KINDS` gives; `what` names the settings ("encoder config")."""
    for field, value in values.items():
        if field not in defaults:
            continue
        check, expected = KINDS.get(field) or _kind_of(defaults[field])
        if not check(value):
            shown = repr(value) if len(repr(value)) <= 40 else f"a {type(value).__name__}"
            raise ConversionError(f"The {what}'s {field} must be {expected}, got {shown}; fix it in the settings (the "
                                  "value the checkpoint was trained with).")


__all__ = ["KINDS", "check_field_types"]
