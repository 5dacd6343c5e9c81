"""How a `PerceiverConfig` field is declared, and the tables read from the declarations.

A field is declared once, as an annotated class attribute of the config (transformers 5's config style):

    num_latents: int = config_field(256, POSITIVE_INT, "N, number of latent vectors.")

Its type is the annotation, its default the first argument; the help text, the value check and whether a
fine-tuning run may change it are the field's metadata. Everything else reads them from there: the docstring's
Args section (`document_fields`), `perceiver-hf train`'s flags and `--config_overrides` (`declared_fields`,
`value_type`), the fine-tuning list (`fine_tuning_fields`) and the error messages (`config_validation`).
"""

from __future__ import annotations

import dataclasses
import textwrap
import types
import typing
from typing import Any

from huggingface_hub.dataclasses import validated_field

from .config_validation import Check

DOCSTRING_WIDTH = 120


def config_field(default: Any, check: Check, help: str, *, fine_tuning: bool = False) -> Any:
    """A config field: `default`, its value `check` (run by `@strict` on every assignment), what it means
    (`help`), and whether fine-tuning a pretrained model may change it (`fine_tuning`: it does not change the
    architecture of the pretrained part)."""
    return validated_field(check, default=default, metadata={"help": help, "check": check, "fine_tuning": fine_tuning})


def declared_fields(cls: type) -> tuple[dataclasses.Field, ...]:
    """The fields `cls` declares with `config_field` (not `PreTrainedConfig`'s own), in declaration order."""
    return tuple(f for f in dataclasses.fields(cls) if "help" in f.metadata)


def field_names(cls: type) -> tuple[str, ...]:
    """The names of `declared_fields(cls)`."""
    return tuple(f.name for f in declared_fields(cls))


def field_help(cls: type) -> dict[str, str]:
    """Field name -> what it means, for every declared field of `cls` (the help table of the docs and flags)."""
    return {f.name: f.metadata["help"] for f in declared_fields(cls)}


def fine_tuning_fields(cls: type) -> tuple[str, ...]:
    """The fields a fine-tuning run may change (declared with `fine_tuning=True`)."""
    return tuple(f.name for f in declared_fields(cls) if f.metadata["fine_tuning"])


def _type_args(field: dataclasses.Field) -> tuple[tuple[Any, ...], bool]:
    """(the non-None types of the annotation, whether None is allowed)."""
    annotation = field.type
    if isinstance(annotation, str):
        raise TypeError(f"Field {field.name!r} has a string annotation; its module must not use postponed annotations.")
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        args = typing.get_args(annotation)
        return tuple(arg for arg in args if arg is not type(None)), type(None) in args
    return (annotation,), False


def value_type(field: dataclasses.Field) -> type:
    """The Python type a value of `field` is parsed to: `int | None` -> int, `int | float` -> float."""
    args, _ = _type_args(field)
    return float if float in args else args[0]


def type_name(field: dataclasses.Field) -> tuple[str, bool]:
    """(type name for the docs, optional?): `int | None` -> ("int", True), `int | float` -> ("float", False)."""
    args, optional = _type_args(field)
    return value_type(field).__name__ if args else "None", optional


def _default_text(value: Any) -> str:
    return f"`{value!r}`".replace("'", '"') if isinstance(value, (str, bool)) or value is None else f"{value!r}"


def field_docs(cls: type, indent: int = 8) -> str:
    """The Args lines of every declared field of `cls` (Google style, as transformers' configs write them),
    wrapped at `DOCSTRING_WIDTH`."""
    lines = []
    for field in declared_fields(cls):
        name, optional = type_name(field)
        kind = f"`{name}`, *optional*" if optional else f"`{name}`"
        entry = f"{field.name} ({kind}, defaults to {_default_text(field.default)}): {field.metadata['help']}"
        lines += textwrap.wrap(
            entry, DOCSTRING_WIDTH, initial_indent=" " * indent, subsequent_indent=" " * (indent + 4),
            break_long_words=False, break_on_hyphens=False,
        )  # fmt: skip
    return "\n".join(lines)


def document_fields(cls: type) -> type:
    """Class decorator: replace the `{fields}` line of `cls.__doc__` with `field_docs(cls)`."""
    marker = " " * 8 + "{fields}"
    if cls.__doc__ is None or marker not in cls.__doc__:
        raise ValueError(f"{cls.__name__}'s docstring has no '{marker.strip()}' line for its field table")
    cls.__doc__ = cls.__doc__.replace(marker, field_docs(cls))
    return cls


__all__ = [
    "config_field",
    "declared_fields",
    "document_fields",
    "field_docs",
    "field_help",
    "field_names",
    "fine_tuning_fields",
    "type_name",
    "value_type",
]
