"""The harmless stand-ins the restricted unpickler hands out for the globals a Haiku checkpoint references.

Each load gets its own set (`admitted_globals(limits)`): functions are wrapped in a fresh, immutable `StandIn`
whose ``__setstate__`` (pickle's BUILD), attribute and item assignment refuse, so a pickle can neither change
how later loads behave nor reach the functions themselves. The few admitted types (``dict`` for Haiku's
FlatMapping, ``collections.OrderedDict``) are immutable built-in types, which pickle's NEWOBJ needs as such.

Nothing a stand-in admits allocates more than the file could describe: arrays are views of bytes the pickle
already holds (their declared shape must match those bytes exactly), and a size asked of ``bytes`` or
``bytearray`` is checked against the file size and `LoadLimits.max_bytes` before anything is allocated.
"""

from __future__ import annotations

import functools
import math
import os
import reprlib
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, Callable, Optional, Union

import numpy as np

from .errors import ConversionError, UnsafePickleError

NUMERIC_DTYPE_KINDS = "biufc"  # bool, signed/unsigned int, float, complex
MAX_PICKLE_BYTES_ENV = "PERCEIVER_HF_MAX_PICKLE_BYTES"
DEFAULT_MAX_PICKLE_BYTES = 4 << 30  # DeepMind's full-size checkpoint is 0.8 GB
MAX_ARRAY_RANK = 32  # numpy's own limit is 64; a parameter has at most a handful of axes

describe = reprlib.Repr()
describe.maxlevel, describe.maxstring, describe.maxother = 3, 40, 40


def short_repr(value: Any) -> str:
    """A bounded repr for messages (safe on deeply nested or huge values)."""
    return describe.repr(value)


def default_max_bytes() -> int:
    """The size cap of a checkpoint: `MAX_PICKLE_BYTES_ENV` if set (a byte count), else 4 GiB."""
    text = os.environ.get(MAX_PICKLE_BYTES_ENV)
    if text is None:
        return DEFAULT_MAX_PICKLE_BYTES
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise ConversionError(f"{MAX_PICKLE_BYTES_ENV}={text!r} is not a positive byte count; e.g. set it to 8589934592.")
    return value


@dataclass(frozen=True)
class LoadLimits:
    """What one load may allocate: at most the file's size in any one buffer, and never more than `max_bytes`."""

    file_size: int
    max_bytes: int

    def check_size(self, nbytes: int, what: str) -> None:
        """Raise unless a buffer of `nbytes` fits in what the file could describe."""
        limit = min(self.file_size, self.max_bytes)
        if nbytes > limit:
            raise ConversionError(
                f"not a Haiku checkpoint: the pickle declares {what} of {nbytes:,} bytes but the file is "
                f"{self.file_size:,} bytes (cap {self.max_bytes:,}, raise it with {MAX_PICKLE_BYTES_ENV}); "
                "the file is corrupt or hostile."
            )


class StandIn:
    """An admitted global as the pickle sees it: callable, and immutable (BUILD, setattr, setitem refuse)."""

    __slots__ = ("function", "name")

    def __init__(self, function: Callable[..., Any], name: str) -> None:
        object.__setattr__(self, "function", function)
        object.__setattr__(self, "name", name)

    def __call__(self, *args: Any) -> Any:
        return self.function(*args)

    def _refuse(self, how: str) -> None:
        raise UnsafePickleError(
            f"The pickle tries to modify the admitted global `{self.name}` ({how}); a parameter checkpoint never "
            "does this. The file may be malicious; nothing from it was executed."
        )

    def __setstate__(self, state: Any) -> None:
        self._refuse("pickle BUILD")

    def __setattr__(self, name: str, value: Any) -> None:
        self._refuse(f"setting {name!r}")

    def __delattr__(self, name: str) -> None:
        self._refuse(f"deleting {name!r}")

    def __setitem__(self, key: Any, value: Any) -> None:
        self._refuse("item assignment")

    def __repr__(self) -> str:
        return f"<admitted {self.name}>"


def target(obj: Any) -> Any:
    """The function behind a `StandIn` (anything else unchanged), for identity checks between stand-ins."""
    return obj.function if isinstance(obj, StandIn) else obj


class ArrayBuilder:
    """Stands in for an ndarray during unpickling; `__setstate__` (pickle's BUILD) makes the real array."""

    __slots__ = ("array",)

    def __init__(self) -> None:
        self.array: Optional[np.ndarray] = None

    def __setstate__(self, state: Any) -> None:
        self.array = _array_from_state(state)


def _check_dtype(dtype: Any) -> np.dtype:
    if not isinstance(dtype, np.dtype) or dtype.kind not in NUMERIC_DTYPE_KINDS or dtype.subdtype or dtype.names:
        raise UnsafePickleError(
            f"The pickle holds an array of dtype {short_repr(dtype)}; a parameter checkpoint holds only numeric "
            "arrays (bool, int, float, complex). Object and structured arrays are refused."
        )
    return dtype


def _check_shape(shape: Any) -> tuple[int, ...]:
    if not isinstance(shape, (tuple, list)) or len(shape) > MAX_ARRAY_RANK or not all(
        isinstance(n, (int, np.integer)) and not isinstance(n, bool) and n >= 0 for n in shape
    ):
        raise ConversionError(
            f"An array in the pickle declares the shape {short_repr(shape)}; expected at most {MAX_ARRAY_RANK} "
            "non-negative integer sizes. The file is corrupt."
        )
    return tuple(int(n) for n in shape)


def _as_buffer(data: Any) -> Union[bytes, bytearray]:
    if isinstance(data, str):  # Python 2 pickles store array bytes as latin-1 text
        data = data.encode("latin-1")
    if not isinstance(data, (bytes, bytearray)):
        raise UnsafePickleError(f"Array data in the pickle is a {type(data).__name__}, expected raw bytes.")
    return data


def _frombuffer(data: Any, dtype: Any, shape: Any, order: str = "C") -> np.ndarray:
    """A read-only array over `data` (no copy), checked against the declared dtype and shape."""
    dtype = _check_dtype(dtype)
    data = _as_buffer(data)
    shape = _check_shape(shape)
    if len(data) != math.prod(shape) * dtype.itemsize:
        raise ConversionError(
            f"An array in the pickle declares shape {shape} ({dtype}) but holds {len(data)} bytes; "
            "the file is corrupt or truncated."
        )
    return np.frombuffer(data, dtype=dtype).reshape(shape, order="F" if order == "F" else "C")


def _array_from_state(state: Any) -> np.ndarray:
    # numpy's ndarray.__reduce__ state: ([version,] shape, dtype, is_fortran, rawdata)
    if not isinstance(state, tuple) or len(state) not in (4, 5):
        raise ConversionError("An ndarray in the pickle has an unreadable state; the file is corrupt.")
    shape, dtype, is_fortran, rawdata = state[-4:]
    return _frombuffer(rawdata, dtype, shape, "F" if is_fortran else "C")


def _ndarray(*args: Any) -> None:
    """What the global ``numpy.ndarray`` resolves to: a name for `_reconstruct`'s type argument, not callable."""
    raise UnsafePickleError(
        "The pickle calls numpy.ndarray directly; it is only admitted as an argument of numpy's _reconstruct."
    )


def _reconstruct(subtype: Any, shape: Any, dtype_code: Any) -> ArrayBuilder:
    """numpy's ``multiarray._reconstruct(ndarray, (0,), b'b')``: an empty array that BUILD then fills."""
    if target(subtype) is not _ndarray:
        raise UnsafePickleError(
            f"numpy _reconstruct was asked for {short_repr(subtype)}; only numpy.ndarray is admitted."
        )
    return ArrayBuilder()


def _scalar(dtype: Any, data: Any = b"") -> np.generic:
    """numpy's ``multiarray.scalar(dtype, bytes)``: a numeric numpy scalar."""
    return _frombuffer(data, dtype, (1,))[0]


def _dtype(spec: Any, align: bool = False, copy: bool = False) -> np.dtype:
    """``numpy.dtype(spec, align, copy)``, refusing object dtypes."""
    if not isinstance(spec, str) or len(spec) > 8:
        raise UnsafePickleError(f"numpy.dtype was called with {short_repr(spec)}; only dtype codes are admitted.")
    dtype = np.dtype(spec, align=bool(align), copy=bool(copy))
    if dtype.hasobject:
        raise UnsafePickleError(f"The pickle asks for numpy dtype {spec!r} (Python objects); refused.")
    return dtype


def _reconstruct_device_array(fun: Any, args: Any, arr_state: Any, aval_state: Any = None) -> ArrayBuilder:
    """JAX's ``reconstruct_device_array``: rebuild the numpy value through `_reconstruct`; ignore the JAX metadata."""
    if target(fun) is not _reconstruct or not isinstance(args, tuple):
        raise UnsafePickleError(
            f"A JAX array in the pickle is rebuilt with {short_repr(fun)}; only numpy's multiarray._reconstruct "
            "is admitted."
        )
    builder = fun(*args)
    builder.__setstate__(arr_state)
    return builder


def _is_latin1(encoding: Any) -> bool:
    return isinstance(encoding, str) and encoding.replace("-", "").replace("_", "").lower() in ("latin1", "iso88591")


def _codecs_encode(text: Any, encoding: str = "utf-8") -> bytes:
    """``_codecs.encode(text, 'latin1')``, the protocol-2 form of a bytes object."""
    if not isinstance(text, str) or not _is_latin1(encoding):
        raise UnsafePickleError(
            f"_codecs.encode with encoding {short_repr(encoding)} is refused; only latin1 is admitted."
        )
    return text.encode("latin-1")


def _bytes_like(kind: type, limits: LoadLimits, *args: Any) -> Union[bytes, bytearray]:
    """``bytes(...)`` / ``bytearray(...)`` as pickles use them: empty, a copy of bytes, or latin-1 text."""
    if not args:
        return kind()
    if len(args) == 1 and isinstance(args[0], (bytes, bytearray)):
        return kind(args[0])
    if len(args) == 2 and isinstance(args[0], str) and _is_latin1(args[1]):
        return kind(args[0], "latin-1")
    if len(args) == 1 and isinstance(args[0], int) and not isinstance(args[0], bool):
        limits.check_size(args[0], f"a {kind.__name__}")  # before allocating
        return kind(args[0])
    raise UnsafePickleError(
        f"builtins.{kind.__name__} was called with {short_repr(args)}; a checkpoint only builds it from bytes "
        "or latin-1 text."
    )


def _container(kind: type, *args: Any) -> Any:
    """``set``/``frozenset``/``list``/``tuple``/``dict`` of another container (never of bytes, text or a size)."""
    if len(args) > 1 or (args and not isinstance(args[0], (list, tuple, set, frozenset, dict))):
        raise UnsafePickleError(
            f"builtins.{kind.__name__} was called with {short_repr(args)}; a checkpoint only builds it from "
            "another container."
        )
    return kind(*args)


def _reconstructor(cls: Any, base: Any, state: Any) -> dict:
    """``copyreg._reconstructor`` (protocol 0/1 form of a dict subclass such as FlatMapping)."""
    if cls not in (dict, OrderedDict) or target(base) is not _CONTAINERS["dict"]:
        raise UnsafePickleError(
            f"copyreg._reconstructor for {short_repr(cls)} is refused; only dict subclasses are admitted."
        )
    if state is not None and not isinstance(state, (dict, list, tuple)):
        raise UnsafePickleError(f"copyreg._reconstructor was given the state {short_repr(state)}; expected a dict.")
    return cls(state or ())


_CONTAINERS: dict[str, Callable[..., Any]] = {
    name: functools.partial(_container, kind)
    for name, kind in (("dict", dict), ("list", list), ("tuple", tuple), ("set", set), ("frozenset", frozenset))
}
_NUMPY_MULTIARRAY = {"_reconstruct": _reconstruct, "scalar": _scalar}
_JAX_DEVICE_ARRAY = (
    ("jax.interpreters.xla", "reconstruct_device_array"),
    ("jax._src.device_array", "reconstruct_device_array"),
    ("jax._src.array", "_reconstruct_array"),
)
_FUNCTIONS: dict[tuple[str, str], Callable[..., Any]] = {
    ("numpy", "ndarray"): _ndarray,
    ("numpy", "dtype"): _dtype,
    **{(module, name): fn for module in ("numpy.core.multiarray", "numpy._core.multiarray")
       for name, fn in _NUMPY_MULTIARRAY.items()},
    **{(module, "_frombuffer"): _frombuffer for module in ("numpy.core.numeric", "numpy._core.numeric")},
    **{key: _reconstruct_device_array for key in _JAX_DEVICE_ARRAY},
    **{(module, name): fn for module in ("builtins", "__builtin__") for name, fn in _CONTAINERS.items()},
    ("_codecs", "encode"): _codecs_encode,
    ("copyreg", "_reconstructor"): _reconstructor,
    ("copy_reg", "_reconstructor"): _reconstructor,
}
_TYPES: dict[tuple[str, str], type] = {
    ("haiku._src.data_structures", "FlatMapping"): dict,  # NEWOBJ needs a real (here: immutable built-in) type
    ("collections", "OrderedDict"): OrderedDict,
}
_SIZED = {"bytes": bytes, "bytearray": bytearray}


def admitted_globals(limits: LoadLimits) -> dict[tuple[str, str], Any]:
    """(module, name) a checkpoint may reference -> a fresh stand-in for one load (see the module docstring)."""
    admitted: dict[tuple[str, str], Any] = dict(_TYPES)
    for (module, name), function in _FUNCTIONS.items():
        admitted[(module, name)] = StandIn(function, f"{module}.{name}")
    for module in ("builtins", "__builtin__"):
        for name, kind in _SIZED.items():
            admitted[(module, name)] = StandIn(functools.partial(_bytes_like, kind, limits), f"{module}.{name}")
    return admitted


ADMITTED_NAMES = frozenset([*_TYPES, *_FUNCTIONS, *((m, n) for m in ("builtins", "__builtin__") for n in _SIZED)])
"""Every (module, name) the restricted unpickler resolves."""
