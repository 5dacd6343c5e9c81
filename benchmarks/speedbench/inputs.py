"""Benchmark inputs: byte ids (UTF-8 byte + 6, as the byte tokenizer makes them), masks and MLM batches."""

from __future__ import annotations

from dataclasses import dataclass

import torch

PAD_ID = 0
MASK_ID = 3
FILL_MASK_SENTENCE = "The Perceiver reads every byte of this sentence in one pass."  # 60 bytes
FILL_MASK_WORD = " sentence"  # masked with its leading space, as in DeepMind's notebook


def byte_ids(text: str) -> torch.Tensor:
    """UTF-8 bytes of `text` as ids [L] (byte + 6)."""
    return torch.tensor(list(text.encode("utf-8")), dtype=torch.long) + 6


@dataclass
class FillMaskInput:
    """One sentence [1, L] with one word masked, and where the mask is."""

    input_ids: torch.Tensor  # [1, L]
    masked_positions: torch.Tensor  # [1, K]


def fill_mask_input(sentence: str = FILL_MASK_SENTENCE, word: str = FILL_MASK_WORD) -> FillMaskInput:
    """`sentence` as byte ids with the bytes of `word` replaced by [MASK]."""
    start = len(sentence[: sentence.index(word)].encode("utf-8"))
    positions = torch.arange(start, start + len(word.encode("utf-8")))
    ids = byte_ids(sentence)
    ids[positions] = MASK_ID
    return FillMaskInput(input_ids=ids[None], masked_positions=positions[None])


def pad_to(ids: torch.Tensor, length: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Right-pad ids [B, L] to [B, length] with [PAD]; returns (ids, attention_mask), as padding="max_length" does."""
    batch, seq_len = ids.shape
    padded = torch.full((batch, length), PAD_ID, dtype=ids.dtype)
    padded[:, :seq_len] = ids
    mask = torch.zeros(batch, length, dtype=torch.long)
    mask[:, :seq_len] = 1
    return padded, mask


def random_ids(batch: int, length: int, vocab_size: int = 262, seed: int = 0) -> torch.Tensor:
    """Random token ids [batch, length] (reproducible): printable-ASCII bytes for the byte vocabulary (262),
    any non-special id (>= 6) for other vocabularies."""
    generator = torch.Generator().manual_seed(seed)
    low, high = (32 + 6, 127 + 6) if vocab_size == 262 else (6, vocab_size)
    return torch.randint(low, high, (batch, length), generator=generator)


@dataclass
class MLMBatch:
    """A masked-language-modelling batch in both layouts.

    `labels` [B, L] has the original id at masked positions and -100 elsewhere (transformers' layout);
    `positions` [B, K] / `position_labels` [B, K] list only the masked positions (-1 / -100 = unused slot).
    """

    input_ids: torch.Tensor  # [B, L]
    labels: torch.Tensor  # [B, L]
    positions: torch.Tensor  # [B, K]
    position_labels: torch.Tensor  # [B, K]


def mlm_batch(ids: torch.Tensor, mask_fraction: float = 0.15, seed: int = 0) -> MLMBatch:
    """Mask `mask_fraction` of each row of ids [B, L] at random positions (replaced by [MASK])."""
    batch, length = ids.shape
    generator = torch.Generator().manual_seed(seed)
    num_masked = max(1, round(mask_fraction * length))
    positions = torch.stack([torch.randperm(length, generator=generator)[:num_masked].sort().values for _ in range(batch)])
    labels = torch.full_like(ids, -100)
    labels.scatter_(1, positions, ids.gather(1, positions))
    masked = ids.scatter(1, positions, MASK_ID)
    return MLMBatch(input_ids=masked, labels=labels, positions=positions, position_labels=ids.gather(1, positions))


AGREEMENT_SENTENCES = [
    "The Perceiver reads every byte of this sentence in one pass.",
    "A cross-attention layer maps a long input onto a small latent array.",
    "Most of the compute happens in the latent self-attention stack.",
    "Byte-level models need no vocabulary and handle any language.",
    "The decoder asks one query per output position it has to predict.",
    "Quantized weights take a quarter of the memory of float32 weights.",
    "She parked the bicycle near the library and walked to the station.",
    "Rain is expected in the afternoon, so take an umbrella with you.",
    "The committee will publish its report at the end of next month.",
    "He poured the coffee, opened the window and read the newspaper.",
    "Many small rivers join before the water reaches the open sea.",
    "The museum closes early on Sundays during the winter season.",
    "Please send the signed contract back before Friday evening.",
    "Old maps often show coastlines that have changed since then.",
    "The recipe calls for two eggs, flour, butter and a little salt.",
    "Children learn new words quickly when they hear them in stories.",
]


def agreement_batch(mask_fraction: float = 0.15, seed: int = 0) -> MLMBatch:
    """`AGREEMENT_SENTENCES` cut to a common length, with `mask_fraction` of each one's bytes masked."""
    rows = [byte_ids(sentence) for sentence in AGREEMENT_SENTENCES]
    length = min(len(row) for row in rows)
    return mlm_batch(torch.stack([row[:length] for row in rows]), mask_fraction, seed)
