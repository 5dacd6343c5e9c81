"""Held-out evaluation of a byte-level masked language model: masked-byte accuracy under whole-word masking.

The text is tokenized as one stream and cut into `seq_len`-byte chunks (the way `perceiver-hf train` groups
its training data); every chunk gets whole-word masks (a word is a run of non-space bytes with the space
before it) drawn from a fixed seed, all masked bytes are replaced by ``[MASK]`` (no 80/10/10 noise: the
model sees every word it must predict as masks), and only the masked positions are decoded. Accuracy is
the share of masked bytes whose argmax prediction is the original byte.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import List, Optional

import torch
from transformers import PreTrainedModel, PreTrainedTokenizerBase

from ..training.collators import PerceiverMLMCollator
from ..training.metrics import preprocess_logits_for_metrics


@dataclass(frozen=True)
class MaskedByteAccuracy:
    """Result of `masked_byte_accuracy`: accuracy and mean cross-entropy (nats) over `num_masked` bytes."""

    accuracy: float
    nll: float
    num_masked: int
    num_chunks: int

    @property
    def perplexity(self) -> float:
        return math.exp(self.nll)


def chunk_token_ids(tokenizer: PreTrainedTokenizerBase, text: str, seq_len: int) -> List[List[int]]:
    """Token ids of `text` (no special tokens) cut into consecutive chunks of `seq_len` (the last may be shorter)."""
    if seq_len < 1:
        raise ValueError(f"seq_len must be a positive number of tokens, got {seq_len}.")
    ids = tokenizer(text, add_special_tokens=False, verbose=False)["input_ids"]  # no length warning: chunked below
    if not ids:
        raise ValueError("The evaluation text is empty; pass a file with some text in it.")
    return [ids[start : start + seq_len] for start in range(0, len(ids), seq_len)]


@torch.no_grad()
def masked_byte_accuracy(
    model: PreTrainedModel,
    tokenizer: PreTrainedTokenizerBase,
    text: str,
    seq_len: Optional[int] = None,
    mlm_probability: float = 0.15,
    seed: int = 0,
    batch_size: int = 16,
) -> MaskedByteAccuracy:
    """Whole-word-masked byte accuracy of `model` on `text` (masks fixed by `seed`; see the module docstring).

    `seq_len` defaults to the model's `max_seq_len`.
    """
    seq_len = seq_len or model.config.max_seq_len
    if seq_len > model.config.max_seq_len:
        raise ValueError(f"seq_len {seq_len} is longer than the model's max_seq_len {model.config.max_seq_len}.")
    collator = PerceiverMLMCollator(
        tokenizer=tokenizer,
        mlm_probability=mlm_probability,
        mask_replace_prob=1.0,
        random_replace_prob=0.0,
        masking="whole_word",
        decode_only=True,
        seed=seed,
    )
    chunks = chunk_token_ids(tokenizer, text, seq_len)
    model.eval()
    num_correct, num_masked, loss_sum = 0, 0, 0.0
    for start in range(0, len(chunks), batch_size):
        batch = collator(chunks[start : start + batch_size])
        labels = batch.pop("labels")  # [B, K]
        logits = model(**batch).logits  # [B, K, V]
        predictions, token_losses = preprocess_logits_for_metrics(logits, labels)  # [B, K] each
        scored = labels != -100  # [B, K]
        num_correct += int((predictions == labels)[scored].sum())
        num_masked += int(scored.sum())
        loss_sum += float(token_losses[scored].double().sum())
    if num_masked == 0:
        raise ValueError("No byte was masked; use a longer text or a higher mlm_probability.")
    return MaskedByteAccuracy(num_correct / num_masked, loss_sum / num_masked, num_masked, len(chunks))


__all__ = ["MaskedByteAccuracy", "chunk_token_ids", "masked_byte_accuracy"]
