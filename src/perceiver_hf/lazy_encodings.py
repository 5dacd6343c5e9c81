"""The `tokenizers.Encoding` objects of a batch, computed by the Rust pipeline the first time one is read.

`transformers.BatchEncoding` answers ``word_ids()``, ``tokens()``, ``sequence_ids()``, ``char_to_token()``,
``offsets`` and the other alignment methods from the list of `tokenizers.Encoding` it holds. Building that list
costs the full Rust pipeline (a token string, offsets and word ids for every byte), ten to a hundred times more
than the ids themselves for a byte tokenizer. `LazyEncodings` stands in for the list: it knows the batch size at
once and runs the Rust pipeline on the batch, with the same options, only when an encoding is first read.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Any

from tokenizers import Encoding


class LazyEncodings(Sequence):
    """A read-only list of ``size`` `tokenizers.Encoding` objects, computed by ``compute()`` on first access.

    Args:
        size: Number of encodings ``compute`` returns (the batch size), answered without computing them.
        compute: Returns the encodings, e.g. by running a tokenizer's Rust pipeline on the batch.

    Copying or pickling computes the encodings and gives a plain list, so the copy does not keep the tokenizer.
    """

    def __init__(self, size: int, compute: Callable[[], list[Encoding]]) -> None:
        self._size = size
        self._compute: Callable[[], list[Encoding]] | None = compute
        self._encodings: list[Encoding] | None = None

    def materialize(self) -> list[Encoding]:
        """The encodings as a list (computed now if they were not yet)."""
        if self._encodings is None:
            assert self._compute is not None
            encodings = list(self._compute())
            if len(encodings) != self._size:
                raise RuntimeError(f"Expected {self._size} encodings for the batch, got {len(encodings)}.")
            self._encodings, self._compute = encodings, None
        return self._encodings

    @property
    def computed(self) -> bool:
        """Whether the encodings have been computed."""
        return self._encodings is not None

    def __len__(self) -> int:
        return self._size

    def __getitem__(self, index: Any) -> Any:  # int -> Encoding, slice -> list[Encoding]
        return self.materialize()[index]

    def __iter__(self) -> Iterator[Encoding]:
        return iter(self.materialize())

    def __reduce__(self) -> tuple[Any, ...]:
        return list, (self.materialize(),)

    def __repr__(self) -> str:
        state = "computed" if self.computed else "not computed yet"
        return f"LazyEncodings(size={self._size}, {state})"
