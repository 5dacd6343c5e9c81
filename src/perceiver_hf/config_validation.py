"""Value checks of `PerceiverConfig` fields, and the one-line errors a wrong value gets.

Each field declares its check where it is declared (`config_fields.config_field(..., check=POSITIVE_INT)`);
`@strict` (huggingface_hub's strict dataclasses, as transformers 5's configs use them) runs the field's type check
and this check whenever the field is set, at construction, in `from_dict` and on a later assignment.
`one_line_errors` turns strict's two-line errors into the `ValueError` this package has always raised:
"PerceiverConfig.num_latents must be a positive integer, got 0; fix it in config.json or the call."
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any, Callable, Iterable, TypeVar

from huggingface_hub.errors import StrictDataclassClassValidationError, StrictDataclassFieldValidationError

T = TypeVar("T")


@dataclass(frozen=True)
class Check:
    """A field value check: `accepts(value)`, and what is `expected` in words (for the error message).

    Callable with one value, as `@strict` calls field validators: raises `ValueError` for a value it refuses.
    """

    expected: str
    accepts: Callable[[Any], bool]

    def __call__(self, value: Any) -> None:
        if not self.accepts(value):
            raise ValueError(f"must be {self.expected}, got {value!r}")


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


POSITIVE_INT = Check("a positive integer", lambda value: _is_int(value) and value >= 1)
OPTIONAL_WIDTH = Check(
    "a positive integer or None (None: the default width)", lambda value: value is None or POSITIVE_INT.accepts(value)
)
BOOL = Check("true or false", lambda value: isinstance(value, bool))
OPTIONAL_INT = Check("an integer or None", lambda value: value is None or _is_int(value))


def positive_number(note: str) -> Check:
    """A number > 0; `note` names the usual value, e.g. "DeepMind: 1e-5"."""
    return Check(f"a positive number ({note})", lambda value: _is_number(value) and value > 0)


def fraction() -> Check:
    """A number in [0, 1) (a dropout probability)."""
    return Check("a number in [0, 1)", lambda value: _is_number(value) and 0.0 <= value < 1.0)


def one_of(names: Iterable[str]) -> Check:
    """One of the strings `names`."""
    allowed = sorted(names)
    return Check(f"one of {allowed}", lambda value: isinstance(value, str) and value in allowed)


def field_error(owner: str, name: str, value: Any, expected: str) -> ValueError:
    """The one-line error of a field value: what was wrong and where to fix it."""
    return ValueError(f"{owner}.{name} must be {expected}, got {value!r}; fix it in config.json or the call.")


def one_line_errors(cls: type[T]) -> type[T]:
    """Class decorator, applied above `@strict`: a refused field value raises `field_error` (a `ValueError`
    naming the field, the value and what is expected, from the field's `Check`), and a refused combination
    (a `validate_*` method) raises the method's own `ValueError` message, instead of strict's two-line errors.

    Names of transformers' `attribute_map` (e.g. `hidden_size`) are checked as the field they stand for.
    """
    strict_setattr = cls.__setattr__
    strict_validate = cls.validate  # type: ignore[attr-defined]
    checks = {f.name: f.metadata["check"] for f in fields(cls) if "check" in f.metadata}  # type: ignore[arg-type]

    def __setattr__(self: Any, name: str, value: Any) -> None:
        name = cls.attribute_map.get(name, name)  # type: ignore[attr-defined]
        try:
            strict_setattr(self, name, value)
        except StrictDataclassFieldValidationError as error:
            if name not in checks:
                raise
            raise field_error(cls.__name__, name, value, checks[name].expected) from error.__cause__

    def validate(self: Any) -> None:
        """Run the class validators (`validate_*`); a refusal raises its own one-line `ValueError`."""
        try:
            strict_validate(self)
        except StrictDataclassClassValidationError as error:
            raise ValueError(str(error.__cause__)) from error.__cause__

    validate.__is_defined_by_strict_decorator__ = True  # type: ignore[attr-defined]  # subclasses may re-apply @strict
    cls.__setattr__ = __setattr__  # type: ignore[method-assign,assignment]
    cls.validate = validate  # type: ignore[attr-defined]
    return cls


__all__ = [
    "BOOL",
    "Check",
    "OPTIONAL_INT",
    "OPTIONAL_WIDTH",
    "POSITIVE_INT",
    "field_error",
    "fraction",
    "one_line_errors",
    "one_of",
    "positive_number",
]
