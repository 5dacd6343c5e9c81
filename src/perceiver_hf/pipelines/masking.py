"""Writing and finding masks: `mask_span` for byte models, mask positions for a padded batch."""

from __future__ import annotations

import torch

from ..output_positions import selected_positions

DEFAULT_MASK_TOKEN = "[MASK]"


def mask_span(text: str, span: str, mask_token: str = DEFAULT_MASK_TOKEN) -> str:
    """Replace the first occurrence of ``span`` in ``text`` by one ``mask_token`` per UTF-8 byte of ``span``.

    This is how a byte model (`PerceiverByteTokenizer`: one id per byte, ``"[MASK]"`` -> one MASK id) is asked
    to fill a word: the number of masks is the number of bytes the model has to predict.

    Example:
        >>> mask_span("Some words are missing.", " missing.")
        'Some words are[MASK][MASK][MASK][MASK][MASK][MASK][MASK][MASK][MASK]'

    Raises:
        ValueError: if ``span`` is empty or does not occur in ``text``.
    """
    if not span:
        raise ValueError("mask_span needs a non-empty span to mask (the text that the model should fill in).")
    start = text.find(span)
    if start < 0:
        raise ValueError(f"Cannot mask {span!r}: it does not occur in the text {_preview(text)!r}.")
    num_bytes = len(span.encode("utf-8"))
    return text[:start] + mask_token * num_bytes + text[start + len(span) :]


def missing_mask_message(text: str, mask_token: str) -> str:
    """The error message for a fill-mask input without any mask token."""
    return (
        f"No {mask_token} in the input {_preview(text)!r}: nothing to fill. Write {mask_token} where a token "
        f"should be predicted (byte models: one {mask_token} per byte, e.g. 'a {mask_token * 3} day' "
        f"fills 3 bytes), or build the text with perceiver_hf.pipelines.mask_span(text, word)."
    )


def masked_positions(input_ids: torch.Tensor, mask_token_id: int) -> torch.Tensor:
    """Positions of the mask tokens of each row, ascending, padded with -1: input_ids [B, L] -> [B, K].

    K is the largest number of masks in a row; -1 marks unused slots (what `output_positions` expects).
    """
    return selected_positions(input_ids == mask_token_id)  # [B, K]


def _preview(text: str, limit: int = 60) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


__all__ = ["DEFAULT_MASK_TOKEN", "mask_span", "masked_positions", "missing_mask_message"]
