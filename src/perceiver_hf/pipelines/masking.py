"""Writing and finding masks: `mask_span` for byte models, mask positions for a padded batch."""

from __future__ import annotations

import torch

from ..text_masks import DEFAULT_MASK_TOKEN, mask_span, missing_mask_message


def masked_positions(input_ids: torch.Tensor, mask_token_id: int) -> torch.Tensor:
    """Positions of the mask tokens of each row, ascending, padded with -1: input_ids [B, L] -> [B, K].

    K is the largest number of masks in a row; -1 marks unused slots (what `output_positions` expects).
    """
    is_mask = input_ids == mask_token_id  # [B, L]
    counts = is_mask.sum(dim=1)  # [B]
    num_slots = int(counts.max()) if counts.numel() else 0
    # a stable sort puts each row's mask positions first, in ascending order
    order = torch.argsort((~is_mask).to(torch.int8), dim=1, stable=True)[:, :num_slots]  # [B, K]
    slots = torch.arange(num_slots, device=input_ids.device)  # [K]
    return torch.where(slots[None, :] < counts[:, None], order, torch.full_like(order, -1))  # [B, K]


__all__ = ["DEFAULT_MASK_TOKEN", "mask_span", "masked_positions", "missing_mask_message"]
