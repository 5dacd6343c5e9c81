"""Read a Haiku parameter pickle safely, without JAX or Haiku installed.

Unpickling runs whatever callables the file names, so a restricted unpickler admits only the globals a
parameter checkpoint holds, each mapped to a harmless stand-in written here (nothing is imported by name):

- ``haiku._src.data_structures.FlatMapping`` (2021 Haiku; a dict subclass) -> a plain ``dict``;
- numpy array reconstruction under ``numpy.core.multiarray`` (numpy 1.x) and ``numpy._core.multiarray``
  (numpy 2.x): ``_reconstruct`` and ``scalar``, plus ``numpy.ndarray``, ``numpy.dtype`` and the protocol-5
  form ``numpy.(_)core.numeric._frombuffer``; only numeric dtypes (bool, int, uint, float, complex);
- 2021-era JAX DeviceArrays, ``reconstruct_device_array(fun, args, arr_state, aval_state)`` under
  ``jax.interpreters.xla`` and ``jax._src.device_array`` (and ``jax._src.array._reconstruct_array``):
  ``fun``/``args``/``arr_state`` are numpy's own reduce of the value, so the array is rebuilt through the
  admitted numpy stand-ins and the JAX metadata (``aval_state``) is ignored;
- plain containers (``builtins`` dict/list/tuple/set/frozenset/bytes/bytearray, ``collections.OrderedDict``)
  and ``_codecs.encode`` for latin-1 (how protocol-2 pickles store bytes).

Any other global is refused with `UnsafePickleError` naming it, before anything from the file runs.

Arrays are rebuilt without copying: each becomes a read-only numpy view of the bytes object the pickle
stored it in, so loading a checkpoint costs about its own size in memory (numpy's own reconstruction
would copy every array while the unpickler still holds the original bytes).
"""

from __future__ import annotations

import math
import pickle
from collections import OrderedDict
from pathlib import Path
from typing import Any, Callable, Optional, Union

import numpy as np

from .errors import ConversionError, UnsafePickleError
from .progress import ReadProgress

NUMERIC_DTYPE_KINDS = "biufc"  # bool, signed/unsigned int, float, complex


class _ArrayBuilder:
    """Stands in for an ndarray during unpickling; `__setstate__` (pickle's BUILD) makes the real array."""

    __slots__ = ("array",)

    def __init__(self) -> None:
        self.array: Optional[np.ndarray] = None

    def __setstate__(self, state: Any) -> None:
        self.array = _array_from_state(state)


def _check_dtype(dtype: Any) -> np.dtype:
    if not isinstance(dtype, np.dtype) or dtype.kind not in NUMERIC_DTYPE_KINDS:
        raise UnsafePickleError(
            f"The pickle holds an array of dtype {dtype!r}; a parameter checkpoint holds only numeric arrays "
            "(bool, int, float, complex). Object and structured arrays are refused."
        )
    return dtype


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
    shape = tuple(int(n) for n in shape)
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


class _NDArray:
    """What the global ``numpy.ndarray`` resolves to: a name for `_reconstruct`'s type argument, not callable."""

    def __new__(cls, *args: Any, **kwargs: Any) -> None:
        raise UnsafePickleError(
            "The pickle calls numpy.ndarray directly; it is only admitted as an argument of numpy's _reconstruct."
        )


def _reconstruct(subtype: Any, shape: Any, dtype_code: Any) -> _ArrayBuilder:
    """numpy's ``multiarray._reconstruct(ndarray, (0,), b'b')``: an empty array that BUILD then fills."""
    if subtype is not _NDArray:
        raise UnsafePickleError(f"numpy _reconstruct was asked for a {subtype!r}; only numpy.ndarray is admitted.")
    return _ArrayBuilder()


def _scalar(dtype: Any, data: Any = b"") -> np.generic:
    """numpy's ``multiarray.scalar(dtype, bytes)``: a numeric numpy scalar."""
    return _frombuffer(data, dtype, (1,))[0]


def _dtype(spec: Any, align: bool = False, copy: bool = False) -> np.dtype:
    """``numpy.dtype(spec, align, copy)``, refusing object dtypes."""
    if not isinstance(spec, str):
        raise UnsafePickleError(f"numpy.dtype was called with {spec!r}; only dtype strings are admitted.")
    dtype = np.dtype(spec, align=bool(align), copy=bool(copy))
    if dtype.hasobject:
        raise UnsafePickleError(f"The pickle asks for numpy dtype {spec!r} (Python objects); refused.")
    return dtype


def _reconstruct_device_array(fun: Any, args: Any, arr_state: Any, aval_state: Any = None) -> _ArrayBuilder:
    """JAX's ``reconstruct_device_array``: rebuild the numpy value through `_reconstruct`; ignore the JAX metadata."""
    if fun is not _reconstruct or not isinstance(args, tuple):
        raise UnsafePickleError(
            f"A JAX array in the pickle is rebuilt with {fun!r}; only numpy's multiarray._reconstruct is admitted."
        )
    builder = fun(*args)
    builder.__setstate__(arr_state)
    return builder


def _codecs_encode(text: Any, encoding: str = "utf-8") -> bytes:
    """``_codecs.encode(text, 'latin1')``, the protocol-2 form of a bytes object."""
    if not isinstance(text, str) or encoding.replace("-", "").lower() != "latin1":
        raise UnsafePickleError(f"_codecs.encode with encoding {encoding!r} is refused; only latin1 is admitted.")
    return text.encode("latin-1")


def _reconstructor(cls: Any, base: Any, state: Any) -> dict:
    """``copyreg._reconstructor`` (protocol 0/1 form of a dict subclass such as FlatMapping)."""
    if cls not in (dict, OrderedDict) or base is not dict:
        raise UnsafePickleError(f"copyreg._reconstructor for {cls!r} is refused; only dict subclasses are admitted.")
    return cls(state or ())


_NUMPY_MULTIARRAY = {"_reconstruct": _reconstruct, "scalar": _scalar}
_JAX_DEVICE_ARRAY = {
    ("jax.interpreters.xla", "reconstruct_device_array"),
    ("jax._src.device_array", "reconstruct_device_array"),
    ("jax._src.array", "_reconstruct_array"),
}
_CONTAINERS: dict[str, Callable[..., Any]] = {
    "dict": dict,
    "list": list,
    "tuple": tuple,
    "set": set,
    "frozenset": frozenset,
    "bytes": bytes,
    "bytearray": bytearray,
}

ADMITTED_GLOBALS: dict[tuple[str, str], Any] = {
    ("haiku._src.data_structures", "FlatMapping"): dict,
    ("numpy", "ndarray"): _NDArray,
    ("numpy", "dtype"): _dtype,
    **{(module, name): fn for module in ("numpy.core.multiarray", "numpy._core.multiarray")
       for name, fn in _NUMPY_MULTIARRAY.items()},
    **{(module, "_frombuffer"): _frombuffer for module in ("numpy.core.numeric", "numpy._core.numeric")},
    **{key: _reconstruct_device_array for key in _JAX_DEVICE_ARRAY},
    **{(module, name): fn for module in ("builtins", "__builtin__") for name, fn in _CONTAINERS.items()},
    ("collections", "OrderedDict"): OrderedDict,
    ("_codecs", "encode"): _codecs_encode,
    ("copyreg", "_reconstructor"): _reconstructor,
    ("copy_reg", "_reconstructor"): _reconstructor,
}
"""(module, name) a checkpoint may reference -> the stand-in used for it."""


class RestrictedUnpickler(pickle.Unpickler):
    """A `pickle.Unpickler` that resolves only `ADMITTED_GLOBALS`; anything else raises `UnsafePickleError`."""

    def find_class(self, module: str, name: str) -> Any:
        try:
            return ADMITTED_GLOBALS[(module, name)]
        except KeyError:
            raise UnsafePickleError(
                f"Refused to load the global `{module}.{name}`: a Haiku parameter checkpoint only references "
                "Haiku's FlatMapping, numpy array reconstruction and plain containers. The file may be malicious "
                "or is not a parameter checkpoint; nothing from it was executed."
            ) from None


def _resolve_arrays(obj: Any) -> Any:
    """Replace every `_ArrayBuilder` in nested dicts/lists/tuples by its array."""
    if isinstance(obj, _ArrayBuilder):
        if obj.array is None:
            raise ConversionError("An array in the pickle was never filled with data; the file is corrupt.")
        return obj.array
    if isinstance(obj, dict):
        for key, value in obj.items():
            obj[key] = _resolve_arrays(value)
        return obj
    if isinstance(obj, (list, tuple)):
        return type(obj)(_resolve_arrays(value) for value in obj)
    return obj


def load_pickle(path: Union[str, Path], *, progress: bool = True) -> tuple[Any, str]:
    """Load `path` with `RestrictedUnpickler`; return (the object, with arrays as numpy arrays; its sha256).

    Raises:
        UnsafePickleError: the file references a global outside `ADMITTED_GLOBALS` (nothing was executed).
        ConversionError: the file is missing, unreadable, truncated or not a pickle.
    """
    path = Path(path)
    if not path.is_file():
        raise ConversionError(
            f"Checkpoint {str(path)!r} does not exist or is not a file; check the path "
            "(DeepMind's is https://storage.googleapis.com/perceiver_io/language_perceiver_io_bytes.pickle)."
        )
    try:
        with open(path, "rb") as raw, ReadProgress(raw, path.stat().st_size, f"reading {path.name}", progress) as file:
            obj = RestrictedUnpickler(file).load()
            digest = file.finish()
    except ConversionError:
        raise
    except OSError as error:
        raise ConversionError(f"Could not read {str(path)!r}: {error}.") from error
    except Exception as error:  # anything pickle raises on bad data: UnpicklingError, EOFError, ValueError, ...
        raise ConversionError(
            f"Could not read {str(path)!r} as a pickle ({type(error).__name__}: {error}); the file is corrupt, "
            "truncated or not a pickle. Download it again and check its size."
        ) from error
    return _resolve_arrays(obj), digest
