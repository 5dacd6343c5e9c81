"""Progress reporting for long conversions: a byte counter for reading a checkpoint and an item counter.

Both use tqdm (a transformers dependency) on stderr and can be switched off (`enabled=False`), in which case
nothing is printed. Stage-level messages go to `logger` ("perceiver_hf.convert").
"""

from __future__ import annotations

import hashlib
import logging
from typing import Any, BinaryIO, Iterable, Iterator, TypeVar

from tqdm.auto import tqdm

logger = logging.getLogger("perceiver_hf.convert")

T = TypeVar("T")


class ReadProgress:
    """A read-only file wrapper that shows how many bytes were read and hashes them (sha256) on the way.

    It offers what `pickle.Unpickler` uses (`read`, `readinto`, `readline`), so the checkpoint is read once,
    streamed, and its digest comes for free. Use as a context manager; `finish()` reads any trailing bytes
    and returns the hex digest of the whole file.
    """

    def __init__(self, file: BinaryIO, total: int, description: str, enabled: bool = True) -> None:
        self._file = file
        self._hash = hashlib.sha256()
        self._bar = tqdm(total=total, desc=description, unit="B", unit_scale=True, disable=not enabled)

    def _seen(self, data: Any) -> None:
        self._hash.update(data)
        self._bar.update(len(data))

    def read(self, size: int = -1) -> bytes:
        data = self._file.read(size)
        self._seen(data)
        return data

    def readinto(self, buffer: Any) -> int:
        count = self._file.readinto(buffer)
        self._seen(memoryview(buffer).cast("B")[:count])
        return count

    def readline(self, size: int = -1) -> bytes:
        data = self._file.readline(size)
        self._seen(data)
        return data

    def finish(self) -> str:
        """Read what is left of the file and return the sha256 of all of it."""
        while self.read(1 << 20):
            pass
        return self._hash.hexdigest()

    def __enter__(self) -> "ReadProgress":
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self._bar.close()


def track(items: Iterable[T], total: int, description: str, enabled: bool = True) -> Iterator[T]:
    """Iterate over `items` with a progress bar of `total` steps (no output when `enabled` is False)."""
    with tqdm(items, total=total, desc=description, unit="array", disable=not enabled) as bar:
        yield from bar

