"""The vectorised UTF-8 path of `PerceiverByteTokenizer`: texts to rows of ids, truncation, padding, the batch.

UTF-8 from `str.encode` never contains the bytes 0xF5-0xFF, so every byte id (at most 0xF4 + 6 = 250) and every
special id (0-5) fits in one byte: a row of ids is held as a `bytes` object, `bytes.translate` maps a text's UTF-8
bytes to ids in C, and numpy pads the batch. The rules (truncation side, padding strategy, pad_to_multiple_of)
are the Rust pipeline's; tests compare the two over random texts and options.
"""

from __future__ import annotations

import functools
import re
from typing import Any

import numpy as np
from transformers.tokenization_utils_base import BatchEncoding, PaddingStrategy, TruncationStrategy
from transformers.utils import TensorType

NUM_SPECIAL_TOKENS = 6
"""Ids 0-5 are special tokens; byte ``b`` has id ``b + NUM_SPECIAL_TOKENS``."""
NUM_BYTES = 256

BYTE_TO_ID = bytes((byte + NUM_SPECIAL_TOKENS) % NUM_BYTES for byte in range(NUM_BYTES))
FAST_PATH_MUST_BE_OFF = (
    "is_split_into_words",
    "stride",
    "return_token_type_ids",
    "return_overflowing_tokens",
    "return_special_tokens_mask",
    "return_offsets_mapping",
    "return_length",
)
FAST_PATH_KEYWORDS = frozenset(
    [
        *FAST_PATH_MUST_BE_OFF,
        "add_special_tokens",
        "padding_strategy",
        "truncation_strategy",
        "max_length",
        "pad_to_multiple_of",
        "padding_side",
        "return_tensors",
        "return_attention_mask",
        "verbose",
        "split_special_tokens",
    ]
)


@functools.lru_cache(maxsize=8)
def special_token_pattern(tokens: tuple[str, ...]) -> re.Pattern[str]:
    """Regex splitting text around special tokens, longest first (the Rust added-vocabulary matching rule)."""
    alternatives = "|".join(re.escape(token) for token in sorted(tokens, key=len, reverse=True))
    return re.compile(f"({alternatives})")


def text_to_id_bytes(
    text: str, pattern: re.Pattern[str] | None, special_ids: dict[str, bytes], position: int = 0
) -> bytes:
    """Ids of one text as bytes: UTF-8 byte + 6, each special token written in the text as its own id."""
    parts = [text] if pattern is None else pattern.split(text)  # [text, special, text, special, ...]
    try:
        if len(parts) == 1:
            return text.encode("utf-8").translate(BYTE_TO_ID)
        return b"".join(
            special_ids[part] if index % 2 else part.encode("utf-8").translate(BYTE_TO_ID)
            for index, part in enumerate(parts)
        )
    except UnicodeEncodeError as error:
        raise not_utf8(position, error) from None


def not_utf8(position: int, error: UnicodeEncodeError) -> ValueError:
    character = error.object[error.start]
    return ValueError(
        f"Text {position} has the lone surrogate U+{ord(character):04X} at character {error.start}: it is not valid "
        "Unicode, so it has no UTF-8 bytes to tokenize. Fix the text, e.g. "
        "text.encode('utf-8', 'replace').decode('utf-8')."
    )


def truncates(kwargs: dict[str, Any]) -> bool:
    return kwargs.get("truncation_strategy", TruncationStrategy.DO_NOT_TRUNCATE) != TruncationStrategy.DO_NOT_TRUNCATE


def truncate(row: bytes, keep: int, side: str) -> bytes:
    if len(row) <= keep:
        return row
    return row[:keep] if side == "right" else row[len(row) - keep :]


def padded_length(
    lengths: list[int], strategy: PaddingStrategy, max_length: int | None, pad_to_multiple_of: int | None
) -> int:
    """Length rows are padded to (0 = no padding), with the Rust pipeline's rules; longer rows stay as they are."""
    if strategy == PaddingStrategy.DO_NOT_PAD:
        return 0
    target = max(lengths, default=0) if strategy == PaddingStrategy.LONGEST else max_length
    if pad_to_multiple_of and target % pad_to_multiple_of:
        target += pad_to_multiple_of - target % pad_to_multiple_of
    return target


def rows_to_batch(
    rows: list[bytes],
    lengths: list[int],
    target: int,
    pad_byte: bytes,
    left: bool,
    return_tensors: str | TensorType | None,
    return_attention_mask: bool,
) -> dict[str, Any]:
    """Pad id rows to ``target`` and build input_ids (and attention_mask) as lists, numpy arrays or torch tensors."""
    pads = [max(target - n, 0) for n in lengths]
    padded = [pad_byte * p + row if left else row + pad_byte * p for row, p in zip(rows, pads)]
    tensor_type = None if return_tensors is None else TensorType(return_tensors)
    if tensor_type not in (TensorType.NUMPY, TensorType.PYTORCH):
        data = _padded_rows_to_lists(padded, lengths, pads, left, return_attention_mask)
        return BatchEncoding(data, tensor_type=tensor_type).data

    width = len(padded[0]) if padded else 0
    input_ids = np.frombuffer(b"".join(padded), dtype=np.uint8).reshape(len(padded), width).astype(np.int64)
    data = {"input_ids": input_ids}  # [B, L]
    if return_attention_mask:
        valid = np.asarray(lengths, dtype=np.int64)[:, None]  # [B, 1]
        positions = np.arange(width)[None, :]  # [1, L]
        data["attention_mask"] = (positions >= width - valid if left else positions < valid).astype(np.int64)
    if tensor_type == TensorType.PYTORCH:
        import torch

        data = {key: torch.from_numpy(value) for key, value in data.items()}
    return data


def _padded_rows_to_lists(
    padded: list[bytes], lengths: list[int], pads: list[int], left: bool, return_attention_mask: bool
) -> dict[str, list[list[int]]]:
    data = {"input_ids": [list(row) for row in padded]}  # bytes -> ints in C (small ints are cached)
    if return_attention_mask:  # each row is one slice of a [0..0 1..1] (or [1..1 0..0]) template
        width = max(lengths + pads, default=0)
        if left:
            template = [0] * width + [1] * width
            data["attention_mask"] = [template[width - p : width + n] for n, p in zip(lengths, pads)]
        else:
            template = [1] * width + [0] * width
            data["attention_mask"] = [template[width - n : width + p] for n, p in zip(lengths, pads)]
    return data


__all__ = [
    "BYTE_TO_ID",
    "FAST_PATH_KEYWORDS",
    "FAST_PATH_MUST_BE_OFF",
    "not_utf8",
    "padded_length",
    "rows_to_batch",
    "special_token_pattern",
    "text_to_id_bytes",
    "truncate",
    "truncates",
]
