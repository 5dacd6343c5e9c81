"""Turn the unpickled object graph into plain containers of numpy arrays, visiting each object once.

A pickle can share one object under many references (the memo) and can make containers contain themselves,
so a naive recursive walk takes time exponential in the file size, or recurses forever. `resolve_arrays`
walks iteratively, memoises by object identity, and refuses cycles and nesting deeper than `MAX_NESTING`.
"""

from __future__ import annotations

from typing import Any

from .errors import ConversionError
from .pickle_standins import ArrayBuilder

MAX_NESTING = 64
"""Deepest container nesting admitted (the walk is iterative; this only bounds nonsense): a Haiku checkpoint
nests {module: {param: array}} 2 or 3 levels deep."""

_CONTAINERS = (dict, list, tuple)


def _not_a_checkpoint(problem: str) -> ConversionError:
    return ConversionError(f"not a Haiku checkpoint: {problem}; the file is corrupt or hostile.")


def _array_of(builder: ArrayBuilder) -> Any:
    if builder.array is None:
        raise ConversionError("An array in the pickle was never filled with data; the file is corrupt.")
    return builder.array


def _children(obj: Any) -> Any:
    return obj.values() if isinstance(obj, dict) else obj


def resolve_arrays(root: Any) -> Any:
    """`root` with every `ArrayBuilder` in nested dicts/lists/tuples replaced by its array.

    Dicts are updated in place; lists and tuples are rebuilt once each (a shared one stays shared).

    Raises:
        ConversionError: "not a Haiku checkpoint: ..." for a container that contains itself or nesting
            deeper than `MAX_NESTING`; an array that was declared but never filled.
    """
    done: dict[int, tuple[Any, Any]] = {}  # id -> (original, kept alive so its id stays unique; resolved)
    on_path: set[int] = set()
    stack: list[tuple[Any, int, bool]] = [(root, 0, False)]

    def result(obj: Any) -> Any:
        return done[id(obj)][1] if isinstance(obj, (ArrayBuilder, *_CONTAINERS)) else obj

    while stack:
        obj, depth, expanded = stack.pop()
        if expanded:
            on_path.discard(id(obj))
            if isinstance(obj, dict):
                for key, value in obj.items():
                    obj[key] = result(value)
                resolved = obj
            else:
                resolved = type(obj)(result(value) for value in obj) if isinstance(obj, tuple) else obj
                if isinstance(obj, list):
                    obj[:] = [result(value) for value in obj]
            done[id(obj)] = (obj, resolved)
            continue
        if id(obj) in done:
            continue
        if isinstance(obj, ArrayBuilder):
            done[id(obj)] = (obj, _array_of(obj))
            continue
        if not isinstance(obj, _CONTAINERS):
            continue
        if depth >= MAX_NESTING:
            raise _not_a_checkpoint(f"its containers are nested more than {MAX_NESTING} levels deep")
        on_path.add(id(obj))
        stack.append((obj, depth, True))
        for child in _children(obj):
            if id(child) in on_path:
                raise _not_a_checkpoint(f"a {type(child).__name__} in it contains itself")
            if isinstance(child, (ArrayBuilder, *_CONTAINERS)) and id(child) not in done:
                stack.append((child, depth + 1, False))
    return result(root)
