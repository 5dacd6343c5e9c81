"""Writing and finding masks: `mask_span` for byte models, mask positions for a padded batch."""

from __future__ import annotations

import torch

from ..output_positions import selected_positions
from ..text_masks import DEFAULT_MASK_TOKEN, mask_span, missing_mask_message


def masked_positions(input_ids: torch.Tensor, mask_token_id: int) -> torch.Tensor:
    """Positions of the mask tokens of each row, ascending, padded with -1: input_ids [B, L] -> [B, K].

    K is the largest number of masks in a row; -1 marks unused slots (what `output_positions` expects).
    """
    return selected_positions(input_ids == mask_token_id)  # [B, K]


__all__ = ["DEFAULT_MASK_TOKEN", "mask_span", "masked_positions", "missing_mask_message"]
