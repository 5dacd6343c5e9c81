"""Trimmed character offsets of byte tokens, and a `tokenizers.Encoding` that answers with them.

The Rust pipeline gives every byte token the span of the character it belongs to: the two bytes of "é" both get
``(0, 1)`` and a space gets its own span. Consecutive tokens then never leave a gap between them, so nothing that
finds words by gaps between token offsets (transformers' ``DataCollatorForLanguageModeling(whole_word_mask=True)``)
can see a word boundary, and each continuation byte seems to start a new character.

Trimmed offsets, as RoBERTa's ``trim_offsets`` trims the space off ``"Ġword"``:

- a byte of a whitespace character (Unicode White_Space: space, tab, newline, NBSP, ...) gets the empty span at
  the character's end;
- a continuation byte of a multi-byte character (UTF-8 ``0x80``-``0xBF``) gets the empty span at its character's
  end, while the character's first byte keeps the character's span;
- every other token (other bytes, special tokens, added tokens) keeps its span.

So a token's span is the characters it adds to the text: a word's bytes cover the word without a gap, whitespace
covers nothing and leaves a gap before the next word, and a multi-byte character is covered once, by its first
byte. Starts and ends stay non-decreasing along a sequence.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Optional

from tokenizers import Encoding

from .byte_rows import NUM_SPECIAL_TOKENS

WHITE_SPACE = frozenset(
    "\t\n\v\f\r \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a"
    "\u2028\u2029\u202f\u205f\u3000"
)
"""The characters with the Unicode White_Space property (what Rust's ``char::is_whitespace`` tests)."""

_EMPTY_IDS = frozenset(
    [*(byte + NUM_SPECIAL_TOKENS for byte in range(0x80, 0xC0)),  # UTF-8 continuation bytes
     *(ord(c) + NUM_SPECIAL_TOKENS for c in WHITE_SPACE if ord(c) < 0x80)]  # ASCII whitespace
)  # fmt: skip
_WIDE_WHITE_SPACE_IDS = frozenset(
    tuple(byte + NUM_SPECIAL_TOKENS for byte in c.encode("utf-8")) for c in WHITE_SPACE if ord(c) >= 0x80
)  # the ids of each multi-byte whitespace character, e.g. NBSP (C2 A0) -> (200, 166)
_WIDE_WHITE_SPACE_LEADS = {ids[0]: len(ids) for ids in _WIDE_WHITE_SPACE_IDS}  # first id -> length in bytes


def trimmed_offsets(ids: Sequence[int], offsets: Sequence[tuple[int, int]]) -> list[tuple[int, int]]:
    """The trimmed offsets (see the module docstring) of a sequence of byte-tokenizer ``ids`` and their ``offsets``.

    A plain loop with set look-ups: for the few hundred tokens of a sequence it is faster than numpy's set-up.
    """
    trimmed = list(offsets)
    for index, token_id in enumerate(ids):
        if token_id in _EMPTY_IDS or (
            token_id in _WIDE_WHITE_SPACE_LEADS
            and tuple(ids[index : index + _WIDE_WHITE_SPACE_LEADS[token_id]]) in _WIDE_WHITE_SPACE_IDS
        ):
            end = trimmed[index][1]
            trimmed[index] = (end, end)
    return trimmed


class TrimmedEncoding:
    """A `tokenizers.Encoding` whose ``offsets`` and character look-ups use the trimmed offsets.

    ``offsets``, ``token_to_chars``, ``char_to_token``, ``char_to_word`` and ``word_to_chars`` follow the rules of
    `tokenizers.Encoding` applied to `trimmed_offsets`: a whitespace character or a continuation byte's character
    position is found through the token that covers it (``char_to_token`` of a space is None, of "é" its first
    byte). Everything else (ids, tokens, word ids, sequence ids, masks, ...) is the wrapped encoding's.

    Args:
        encoding: An encoding of `PerceiverByteTokenizer`'s Rust pipeline.
    """

    def __init__(self, encoding: Encoding) -> None:
        self._encoding = encoding
        self._offsets: Optional[list[tuple[int, int]]] = None

    @property
    def offsets(self) -> list[tuple[int, int]]:
        """Each token's trimmed character span, relative to its own sequence (as `tokenizers.Encoding.offsets`)."""
        if self._offsets is None:
            self._offsets = trimmed_offsets(self._encoding.ids, self._encoding.offsets)
        return self._offsets

    @property
    def overflowing(self) -> list["TrimmedEncoding"]:
        """The overflowing parts (``return_overflowing_tokens``), trimmed likewise."""
        return [TrimmedEncoding(part) for part in self._encoding.overflowing]

    def token_to_chars(self, token_index: int) -> Optional[tuple[int, int]]:
        """The trimmed span of token ``token_index`` (None past the end, as `tokenizers.Encoding`)."""
        offsets = self.offsets
        if isinstance(token_index, int) and 0 <= token_index < len(offsets):
            return offsets[token_index]
        return self._encoding.token_to_chars(token_index)  # its None or error for an index out of range

    def char_to_token(self, char_pos: int, sequence_index: int = 0) -> Optional[int]:
        """The first token of sequence ``sequence_index`` whose trimmed span contains ``char_pos``, or None."""
        offsets = self.offsets
        for index in self._token_range(sequence_index):
            start, end = offsets[index]
            if start <= char_pos < end:
                return index
        return None

    def char_to_word(self, char_pos: int, sequence_index: int = 0) -> Optional[int]:
        """The word of the token `char_to_token` finds, or None."""
        token = self.char_to_token(char_pos, sequence_index)
        return None if token is None else self._encoding.token_to_word(token)

    def word_to_chars(self, word_index: int, sequence_index: int = 0) -> Optional[tuple[int, int]]:
        """From the trimmed start of the word's first token to the trimmed end of its last, or None."""
        tokens = self._encoding.word_to_tokens(word_index, sequence_index)
        if tokens is None or tokens[1] == 0:
            return None
        offsets = self.offsets
        return offsets[tokens[0]][0], offsets[tokens[1] - 1][1]

    def pad(self, *args: Any, **kwargs: Any) -> None:
        """`tokenizers.Encoding.pad` (in place); the trimmed offsets follow."""
        self._encoding.pad(*args, **kwargs)
        self._offsets = None

    def truncate(self, *args: Any, **kwargs: Any) -> None:
        """`tokenizers.Encoding.truncate` (in place); the trimmed offsets follow."""
        self._encoding.truncate(*args, **kwargs)
        self._offsets = None

    def _token_range(self, sequence_index: int) -> range | list[int]:
        """Tokens of sequence ``sequence_index``; all tokens for a single sequence (as `tokenizers.Encoding`)."""
        if self._encoding.n_sequences <= 1:
            return range(len(self._encoding))
        return [index for index, seq in enumerate(self._encoding.sequence_ids) if seq == sequence_index]

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__") or name in ("_encoding", "_offsets"):
            raise AttributeError(name)
        return getattr(self._encoding, name)

    def __len__(self) -> int:
        return len(self._encoding)

    def __reduce__(self) -> tuple[Any, ...]:
        return TrimmedEncoding, (self._encoding,)

    def __repr__(self) -> str:
        return f"TrimmedEncoding({self._encoding!r})"


__all__ = ["TrimmedEncoding", "WHITE_SPACE", "trimmed_offsets"]
