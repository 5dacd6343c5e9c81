"""Checks of model inputs that turn would-be torch crashes into messages saying what to do."""

from __future__ import annotations

from typing import Any, Optional

import torch


def _shape(t: torch.Tensor) -> str:
    return "[" + ", ".join(str(s) for s in t.shape) + "]"


def check_model_inputs(
    config: Any,
    input_ids: torch.Tensor,
    attention_mask: Optional[torch.Tensor],
    output_positions: Optional[torch.Tensor],
) -> None:
    """Validate `input_ids` [B, L], `attention_mask` [B, L] and `output_positions` [B, K] against `config`."""
    if not torch.is_tensor(input_ids) or input_ids.dim() != 2:
        got = _shape(input_ids) if torch.is_tensor(input_ids) else type(input_ids).__name__
        raise ValueError(
            f"input_ids must be a 2-D tensor [batch, sequence], got {got}; "
            "tokenize with return_tensors='pt' (add a batch dimension with input_ids[None] for one sequence)."
        )
    for name, value in (("attention_mask", attention_mask), ("output_positions", output_positions)):
        if value is not None and not torch.is_tensor(value):
            raise ValueError(
                f"{name} must be a tensor, got a {type(value).__name__}; pass torch.tensor({name}) "
                "(shape [batch, sequence] for attention_mask, [batch, K] for output_positions)."
            )
    if input_ids.dtype.is_floating_point or input_ids.dtype == torch.bool:
        raise ValueError(f"input_ids must hold integer token ids, got dtype {input_ids.dtype}.")
    batch_size, seq_len = input_ids.shape
    if seq_len == 0:
        raise ValueError("input_ids has no tokens (sequence length 0); pass at least one token per sequence.")
    if seq_len > config.max_seq_len:
        raise ValueError(
            f"Input has {seq_len} tokens but this model handles at most max_seq_len={config.max_seq_len}; "
            f"truncate the input (e.g. tokenizer(..., truncation=True, max_length={config.max_seq_len}))."
        )
    if input_ids.numel() > 0 and not input_ids.is_meta:
        low, high = int(input_ids.min()), int(input_ids.max())
        if low < 0 or high >= config.vocab_size:
            raise ValueError(
                f"input_ids contain ids outside the vocabulary [0, {config.vocab_size}): min {low}, max {high}. "
                "Use the tokenizer that belongs to this model, or a config whose vocab_size covers your tokenizer."
            )
    if attention_mask is not None and attention_mask.shape != input_ids.shape:
        raise ValueError(
            f"attention_mask has shape {_shape(attention_mask)} but input_ids has {_shape(input_ids)}; "
            "they must match (1 for real tokens, 0 for padding)."
        )
    if output_positions is not None:
        if output_positions.dim() != 2 or output_positions.shape[0] != batch_size:
            raise ValueError(
                f"output_positions must be [batch, K] with batch={batch_size}, got {_shape(output_positions)}."
            )
        if output_positions.dtype.is_floating_point or output_positions.dtype == torch.bool:
            raise ValueError(f"output_positions must be integer positions, got dtype {output_positions.dtype}.")
        if output_positions.numel() == 0 or output_positions.is_meta:
            return
        if int(output_positions.max()) >= seq_len:
            raise ValueError(
                f"output_positions go up to {int(output_positions.max())} but the input has only {seq_len} "
                "positions; use positions in [0, sequence length) and -1 for unused slots."
            )
        if int(output_positions.min()) < -1:
            raise ValueError("output_positions may only use -1 to mark an unused slot; other negatives are invalid.")


def check_labels(
    labels: torch.Tensor,
    input_ids: torch.Tensor,
    output_positions: Optional[torch.Tensor],
    vocab_size: Optional[int] = None,
) -> torch.Tensor:
    """Return labels aligned with the decoded positions [B, K]; -100 at unused (-1) output slots."""
    if not torch.is_tensor(labels) or labels.dtype.is_floating_point or labels.dtype == torch.bool:
        got = labels.dtype if torch.is_tensor(labels) else type(labels).__name__
        raise ValueError(f"labels must be an integer tensor of token ids (-100 = no loss), got {got}.")
    scored = labels[labels != -100] if vocab_size is not None and not labels.is_meta else labels[:0]
    if scored.numel() > 0 and (int(scored.min()) < 0 or int(scored.max()) >= vocab_size):
        raise ValueError(
            f"labels contain ids outside the vocabulary [0, {vocab_size}): min {int(scored.min())}, "
            f"max {int(scored.max())}; use token ids of this model's tokenizer and -100 where no loss is wanted."
        )
    if output_positions is None:
        if labels.shape != input_ids.shape:
            raise ValueError(
                f"labels have shape {_shape(labels)} but input_ids have {_shape(input_ids)}; pass one label per "
                "input token (-100 where no loss is wanted)."
            )
        return labels
    # [B, K] first: when K == L the labels are per output position (the collators' form), not per token.
    if labels.shape != output_positions.shape and labels.shape == input_ids.shape:
        labels = labels.gather(1, output_positions.clamp(min=0))  # [B, K]
    elif labels.shape != output_positions.shape:
        raise ValueError(
            f"labels have shape {_shape(labels)}; with output_positions {_shape(output_positions)} they must be "
            f"either per input token {_shape(input_ids)} or per output position {_shape(output_positions)}."
        )
    return labels.masked_fill(output_positions < 0, -100)
