"""Data collators for Perceiver IO masked language modelling with `Trainer`.

`PerceiverMLMCollator` pads a batch on the right, masks it (token, whole-word or span masking with 80/10/10
replacement, see `masking.py`) and, by default, tells the model to decode only the masked positions:

    input_ids [B, L], attention_mask [B, L], output_positions [B, K] (-1 = unused slot), labels [B, K]

where K is the largest number of masked tokens of a sequence in the batch. The decoder then builds K queries
instead of L and the loss covers exactly the masked tokens (Perceiver IO can query any subset of outputs).

The masks of an example are a function of (seed, epoch, its tokens) only: independent of the other examples
in its batch, of the number of processes and of gradient accumulation, and reproduced exactly when training
resumes from a checkpoint. `MaskingEpochCallback` advances the epoch so every epoch draws fresh masks.
"""

from __future__ import annotations

import hashlib
import struct
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Optional

import torch
from transformers import DataCollatorForLanguageModeling, TrainerCallback

from ..output_positions import gather_at_positions, selected_positions
from .masking import MaskingSpec, TokenTables, mask_sequence

EVAL_EPOCH = -1
"""Epoch value used to pre-mask evaluation data (fixed masks, distinct from every training epoch)."""


def example_generator(seed: int, epoch: int, input_ids: torch.Tensor) -> torch.Generator:
    """A generator seeded from (seed, epoch, the example's token ids [n]): same example, same random draws."""
    digest = hashlib.blake2b(struct.pack("<qq", seed, epoch), digest_size=8)
    digest.update(input_ids.to(torch.int64).numpy().tobytes())
    return torch.Generator().manual_seed(int.from_bytes(digest.digest(), "little") >> 1)


def pad_right(sequences: Sequence[Sequence[int]], value: int, length: int) -> torch.Tensor:
    """Stack variable-length integer sequences into [B, length], padding on the right with `value`."""
    out = torch.full((len(sequences), length), value, dtype=torch.long)
    for row, sequence in enumerate(sequences):
        out[row, : len(sequence)] = torch.as_tensor(sequence, dtype=torch.long)
    return out


def select_output_positions(
    labels: torch.Tensor, pad_to_multiple_of: Optional[int] = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """Turn per-token labels [B, L] (-100 = not scored) into (output_positions [B, K], labels [B, K]).

    K is the largest number of scored tokens in a row (at least 1, rounded up to `pad_to_multiple_of`);
    positions are ascending, unused slots hold position -1 and label -100.
    """
    output_positions = selected_positions(labels != -100, min_slots=1, pad_to_multiple_of=pad_to_multiple_of)
    return output_positions, gather_at_positions(labels, output_positions, fill_value=-100)  # [B, K] each


@dataclass
class PerceiverMLMCollator(DataCollatorForLanguageModeling):
    """Pad, mask and (optionally) restrict decoding to the masked positions.

    Extends transformers' `DataCollatorForLanguageModeling` (same `mlm_probability`, `mask_replace_prob`,
    `random_replace_prob` semantics and checks) with whole-word and span masking for any tokenizer, per-example
    deterministic masks and `output_positions`.

    Args:
        tokenizer: any transformers tokenizer with a mask token (e.g. `PerceiverByteTokenizer`).
        mlm_probability: share of tokens (token/span masking) or words (whole-word masking) to mask.
        mask_replace_prob, random_replace_prob: 80/10/10 replacement shares (random ids are never special).
        pad_to_multiple_of: round L, and K of `output_positions`, up to a multiple of this.
        masking: "token", "whole_word" (a word = maximal run of non-space tokens, with the space before it)
            or "span" (SpanBERT: runs of whole words).
        mean_span_length, max_span_length: span-length distribution in words (span masking).
        decode_only: add `output_positions` [B, K] and labels [B, K] (True), or return labels [B, L] and
            let the model decode every position (False).
        seed: masks are a function of (seed, epoch, tokens). None: draw a fresh seed from torch's global RNG
            at every call instead (random, not batch-invariant).
        epoch: set by `MaskingEpochCallback` (or `set_epoch`) at the start of every epoch.

    Examples that already carry `labels` (pre-masked evaluation data, see `premask_example`) are only padded.
    Padding is always on the right: Perceiver IO's learned position encodings require position 0 first.
    """

    masking: str = "token"
    mean_span_length: float = 3.0
    max_span_length: int = 10
    decode_only: bool = True
    epoch: int = 0
    tables: TokenTables = field(init=False, repr=False)
    spec: MaskingSpec = field(init=False, repr=False)

    def __post_init__(self) -> None:
        if not self.mlm:
            raise ValueError("PerceiverMLMCollator is for masked language modelling; mlm=False is not supported.")
        if self.whole_word_mask:
            raise ValueError("Use masking='whole_word' instead of whole_word_mask=True (which needs offsets).")
        if self.return_tensors != "pt":
            raise ValueError(f"PerceiverMLMCollator returns PyTorch tensors only, got return_tensors={self.return_tensors!r}.")
        self.tables = TokenTables.from_tokenizer(self.tokenizer)  # clear error if there is no mask token
        super().__post_init__()
        self.spec = MaskingSpec(
            strategy=self.masking,
            probability=self.mlm_probability,
            mask_replace_prob=self.mask_replace_prob,
            random_replace_prob=self.random_replace_prob,
            mean_span_length=self.mean_span_length,
            max_span_length=self.max_span_length,
        )

    def set_epoch(self, epoch: int) -> None:
        """Draw the masks of `epoch` from now on."""
        self.epoch = int(epoch)

    def mask_example(self, input_ids: Sequence[int], seed: int, epoch: int) -> tuple[list[int], list[int]]:
        """Mask one unpadded example deterministically -> (masked input ids, labels with -100)."""
        ids = torch.as_tensor(input_ids, dtype=torch.long)  # [n]
        masked, labels = mask_sequence(ids, self.spec, self.tables, example_generator(seed, epoch, ids))
        return masked.tolist(), labels.tolist()

    def torch_call(self, examples: list[Any]) -> dict[str, torch.Tensor]:
        features = [ex if isinstance(ex, Mapping) else {"input_ids": ex} for ex in examples]
        ids = [list(f["input_ids"]) for f in features]
        if "labels" in features[0]:
            labels = [list(f["labels"]) for f in features]
        else:
            seed = self.seed if self.seed is not None else int(torch.randint(2**62, ()))
            masked = [self.mask_example(row, seed, self.epoch) for row in ids]
            ids, labels = [m for m, _ in masked], [lab for _, lab in masked]
        length = max(len(row) for row in ids)
        if self.pad_to_multiple_of:
            length = -(-length // self.pad_to_multiple_of) * self.pad_to_multiple_of
        batch = {
            "input_ids": pad_right(ids, self.tables.pad_token_id, length),  # [B, L]
            "attention_mask": pad_right([[1] * len(row) for row in ids], 0, length),  # [B, L]
        }
        label_tensor = pad_right(labels, -100, length)  # [B, L]
        if self.decode_only:
            batch["output_positions"], label_tensor = select_output_positions(label_tensor, self.pad_to_multiple_of)
        batch["labels"] = label_tensor
        return batch


def premask_example(example: dict[str, Any], collator: PerceiverMLMCollator, seed: int) -> dict[str, Any]:
    """`datasets.map` function: fix the masks of an evaluation example (adds `labels`, masks `input_ids`)."""
    input_ids, labels = collator.mask_example(example["input_ids"], seed, EVAL_EPOCH)
    return {"input_ids": input_ids, "labels": labels}


class MaskingEpochCallback(TrainerCallback):
    """Tell a `PerceiverMLMCollator` the current epoch at the start of every training epoch."""

    def __init__(self, collator: PerceiverMLMCollator) -> None:
        self.collator = collator

    def on_epoch_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        # state.epoch is the float progress; at the start of epoch e (also when resuming inside it) it is in [e, e+1)
        self.collator.set_epoch(int(state.epoch or 0))


__all__ = [
    "EVAL_EPOCH",
    "MaskingEpochCallback",
    "PerceiverMLMCollator",
    "example_generator",
    "premask_example",
    "select_output_positions",
]
