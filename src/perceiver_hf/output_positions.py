"""Which positions to decode: the selected positions of each row of a batch, as `output_positions` expects.

Perceiver IO decodes any subset of positions. Both the fill-mask pipelines (decode the mask tokens) and the
masked-LM collator (decode the positions that carry a label) turn a per-position selection [B, L] into
per-row position lists padded with -1; this module is the one place that does it.
"""

from __future__ import annotations

from typing import Optional

import torch

UNUSED_SLOT = -1
"""The `output_positions` value of a slot that decodes nothing."""


def selected_positions(
    selected: torch.Tensor, min_slots: int = 0, pad_to_multiple_of: Optional[int] = None
) -> torch.Tensor:
    """Positions where ``selected`` is true, ascending per row, padded with -1: selected [B, L] bool -> [B, K].

    K is the largest number of selected positions of a row, at least ``min_slots`` and rounded up to a
    multiple of ``pad_to_multiple_of`` when given (K may then exceed L; the extra slots are unused).
    """
    batch_size, seq_len = selected.shape
    counts = selected.sum(dim=1)  # [B]
    num_slots = max(int(counts.max()) if batch_size else 0, min_slots)
    if pad_to_multiple_of:
        num_slots = -(-num_slots // pad_to_multiple_of) * pad_to_multiple_of
    # a stable sort puts each row's selected positions first, in ascending order
    order = torch.argsort((~selected).to(torch.int8), dim=1, stable=True)[:, : min(num_slots, seq_len)]  # [B, K']
    if num_slots > seq_len:
        order = torch.cat([order, order.new_zeros(batch_size, num_slots - seq_len)], dim=1)  # [B, K]
    slots = torch.arange(num_slots, device=selected.device)  # [K]
    return torch.where(slots[None, :] < counts[:, None], order, torch.full_like(order, UNUSED_SLOT))  # [B, K]


def gather_at_positions(values: torch.Tensor, positions: torch.Tensor, fill_value: int) -> torch.Tensor:
    """values [B, L] at positions [B, K] (-1 = unused slot, which gets ``fill_value``) -> [B, K]."""
    unused = positions == UNUSED_SLOT
    gathered = values.gather(1, positions.clamp(min=0))  # [B, K]
    return gathered.masked_fill(unused, fill_value)


__all__ = ["UNUSED_SLOT", "gather_at_positions", "selected_positions"]
