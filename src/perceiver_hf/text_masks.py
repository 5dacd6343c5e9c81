"""Writing masks into text: `mask_span` for byte models and the message for a text without a mask.

Plain string functions (no torch, no transformers), so the `perceiver-hf` command can check texts before it
imports the model code; `perceiver_hf.pipelines` re-exports them.
"""

from __future__ import annotations

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


def _preview(text: str, limit: int = 60) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


__all__ = ["DEFAULT_MASK_TOKEN", "mask_span", "missing_mask_message"]
