"""Turn the settings read from a checkpoint (a pickled object graph, or JSON) into plain dicts and lists, safely.

A pickle can share one object under many references (its memo) and can make a container hold itself, so a naive
recursive copy recurses forever or makes 2**depth copies of a shared object. `plain_settings` walks the graph
iteratively, visits each object once (a shared one becomes one shared plain copy), refuses cycles, nesting deeper
than `MAX_SETTINGS_DEPTH` and a tree that would expand to more than `MAX_SETTINGS_ITEMS` values (what a JSON dump
of it, e.g. into the model card, would write). Time and memory stay proportional to the number of objects the
file holds.
"""

from __future__ import annotations

from typing import Any, Callable, Mapping, Optional

from .errors import ConversionError

MAX_SETTINGS_DEPTH = 8
"""Deepest nesting admitted: a model's settings nest {"encoder": {field: value}} (id2label one level more)."""
MAX_SETTINGS_ITEMS = 100_000
"""Most values the settings may expand to (shared references counted at every place they appear)."""

Unwrap = Callable[[Any], Optional[Any]]


def _no_stand_ins(obj: Any) -> None:
    return None


def plain_settings(root: Any, what: str, unwrap: Unwrap = _no_stand_ins) -> Any:
    """`root` with every mapping as a dict, every list/tuple as a list and every stand-in object (`unwrap(obj)`
    returns its fields as a mapping, None for anything else) as the dict of its fields.

    Args:
        root: the settings as read.
        what: names the source in messages ("'model.ckpt'").
        unwrap: the fields of a stand-in object of the unpickler, or None.

    Raises:
        ConversionError: a container that contains itself, nesting deeper than `MAX_SETTINGS_DEPTH`, more than
            `MAX_SETTINGS_ITEMS` values, or a mapping key that is not text.
    """

    def node_of(obj: Any) -> Optional[Any]:
        if isinstance(obj, (Mapping, list, tuple)):
            return obj
        fields = unwrap(obj)
        return fields if isinstance(fields, Mapping) else None

    done: dict[int, tuple[Any, Any, int]] = {}  # id -> (original, kept alive so ids stay unique; plain; size)
    on_path: set[int] = set()
    stack: list[tuple[Any, int, bool]] = [(root, 0, False)]

    def plain(obj: Any) -> tuple[Any, int]:
        return done[id(obj)][1:] if node_of(obj) is not None else (obj, 1)

    while stack:
        obj, depth, expanded = stack.pop()
        node = node_of(obj)
        if expanded:
            on_path.discard(id(obj))
            values = node.items() if isinstance(node, Mapping) else enumerate(node)
            parts = {key: plain(value) for key, value in values}
            size = 1 + sum(part[1] for part in parts.values())
            if size > MAX_SETTINGS_ITEMS:
                raise ConversionError(f"{what}: the model settings expand to more than {MAX_SETTINGS_ITEMS:,} values "
                                      "(shared references counted where they appear); the file is corrupt or hostile.")
            result = {key: part[0] for key, part in parts.items()}
            done[id(obj)] = (obj, result if isinstance(node, Mapping) else list(result.values()), size)
            continue
        if node is None or id(obj) in done:
            continue
        if depth >= MAX_SETTINGS_DEPTH:
            raise ConversionError(f"{what}: the model settings are nested more than {MAX_SETTINGS_DEPTH} levels deep "
                                  "(a model's settings nest 2 or 3); the file is corrupt or hostile.")
        on_path.add(id(obj))
        stack.append((obj, depth, True))
        for key, child in node.items() if isinstance(node, Mapping) else enumerate(node):
            if isinstance(node, Mapping) and not isinstance(key, str):
                raise ConversionError(f"{what}: the model settings hold a key of type {type(key).__name__}; "
                                      "settings are keyed by field names.")
            if id(child) in on_path:
                raise ConversionError(f"{what}: a {type(child).__name__} in the model settings contains itself; "
                                      "the file is corrupt or hostile.")
            if node_of(child) is not None and id(child) not in done:
                stack.append((child, depth + 1, False))
    return plain(root)[0]


__all__ = ["MAX_SETTINGS_DEPTH", "MAX_SETTINGS_ITEMS", "plain_settings"]
