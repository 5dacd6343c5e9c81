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

Any other global is refused with `UnsafePickleError` naming it, before anything from the file runs. The
stand-ins (`pickle_standins`) are fresh and immutable for every load, and allocate nothing the file could not
describe; the object graph is then walked once per object (`object_graph`), refusing cycles and deep nesting.

Arrays are rebuilt without copying: each becomes a read-only numpy view of the bytes object the pickle
stored it in, so loading a checkpoint costs about its own size in memory (numpy's own reconstruction
would copy every array while the unpickler still holds the original bytes).
"""

from __future__ import annotations

import pickle
from pathlib import Path
from typing import Any, BinaryIO, Optional, Union

from .errors import ConversionError, UnsafePickleError
from .object_graph import MAX_NESTING, resolve_arrays
from .pickle_standins import MAX_PICKLE_BYTES_ENV, LoadLimits, admitted_globals, default_max_bytes
from .progress import ReadProgress


class RestrictedUnpickler(pickle.Unpickler):
    """A `pickle.Unpickler` that resolves only `ADMITTED_NAMES`, each to a stand-in; anything else is refused."""

    def __init__(self, file: BinaryIO, *, limits: LoadLimits) -> None:
        super().__init__(file)
        self._admitted = admitted_globals(limits)  # fresh stand-ins: nothing a pickle does to them outlives it

    def find_class(self, module: str, name: str) -> Any:
        try:
            return self._admitted[(module, name)]
        except KeyError:
            raise UnsafePickleError(
                f"Refused to load the global `{module}.{name}`: a Haiku parameter checkpoint only references "
                "Haiku's FlatMapping, numpy array reconstruction and plain containers. The file may be malicious "
                "or is not a parameter checkpoint; nothing from it was executed."
            ) from None


def load_pickle(
    path: Union[str, Path], *, progress: bool = True, max_bytes: Optional[int] = None
) -> tuple[Any, str]:
    """Load `path` with `RestrictedUnpickler`; return (the object, with arrays as numpy arrays; its sha256).

    Args:
        path: the pickle.
        progress: show a progress bar on stderr.
        max_bytes: the largest file (and buffer) admitted; default `MAX_PICKLE_BYTES_ENV` or 4 GiB.

    Raises:
        UnsafePickleError: the file references a global outside `ADMITTED_NAMES`, or tries to modify one
            (nothing was executed).
        ConversionError: the file is missing, unreadable, truncated, not a pickle, larger than `max_bytes`,
            declares more memory than it holds, or is not a tree of containers ("not a Haiku checkpoint: ...").
    """
    path = Path(path)
    if not path.is_file():
        raise ConversionError(
            f"Checkpoint {str(path)!r} does not exist or is not a file; check the path "
            "(DeepMind's is https://storage.googleapis.com/perceiver_io/language_perceiver_io_bytes.pickle)."
        )
    size = path.stat().st_size
    limits = LoadLimits(file_size=size, max_bytes=default_max_bytes() if max_bytes is None else max_bytes)
    if size > limits.max_bytes:
        raise ConversionError(
            f"Checkpoint {str(path)!r} is {size:,} bytes, over the cap of {limits.max_bytes:,} "
            f"(DeepMind's is 0.8 GB); if it is right, raise the cap with {MAX_PICKLE_BYTES_ENV}={size}."
        )
    try:
        with open(path, "rb") as raw, ReadProgress(raw, size, f"reading {path.name}", progress) as file:
            obj = RestrictedUnpickler(file, limits=limits).load()
            digest = file.finish()
        return resolve_arrays(obj), digest
    except ConversionError as error:
        raise type(error)(f"{str(path)!r}: {error}") from None
    except OSError as error:
        raise ConversionError(f"Could not read {str(path)!r}: {error}.") from error
    except RecursionError:
        raise ConversionError(
            f"{str(path)!r} is not a Haiku checkpoint: its objects are nested too deeply to read (a parameter "
            f"checkpoint nests {MAX_NESTING} levels at most); the file is corrupt or hostile."
        ) from None
    except Exception as error:  # anything pickle raises on bad data: UnpicklingError, EOFError, ValueError, ...
        raise ConversionError(
            f"Could not read {str(path)!r} as a pickle ({type(error).__name__}: {error}); the file is corrupt, "
            "truncated or not a pickle. Download it again and check its size."
        ) from error
