"""Pipelines for filling masks; importing this package registers the "fill-mask-spans" task with transformers.

- ``pipeline("fill-mask", model=folder)``: transformers' own `FillMaskPipeline` works unchanged with
  `PerceiverForMaskedLM` (top-k candidates for each single ``[MASK]``; it decodes every position).
- ``pipeline("fill-mask-spans", model=folder)``: `FillMaskSpansPipeline`, greedy filling of every mask at once,
  decoding only the masked positions; the natural way to fill words with a byte model.
- `mask_span(text, word)`: write one ``[MASK]`` per UTF-8 byte of ``word`` in place of ``word``.
"""

from __future__ import annotations

from transformers import AutoModelForMaskedLM
from transformers.pipelines import PIPELINE_REGISTRY

from .fill_mask_spans import DEFAULT_BATCH_SIZE, FILL_MASK_SPANS_TASK, FillMaskSpansPipeline
from .masking import mask_span, masked_positions, missing_mask_message


def register_pipelines() -> None:
    """Register `FillMaskSpansPipeline` as the "fill-mask-spans" task (idempotent; runs on import)."""
    registered = PIPELINE_REGISTRY.supported_tasks.get(FILL_MASK_SPANS_TASK, {})
    if registered.get("impl") is FillMaskSpansPipeline:
        return
    PIPELINE_REGISTRY.register_pipeline(
        FILL_MASK_SPANS_TASK,
        pipeline_class=FillMaskSpansPipeline,
        pt_model=AutoModelForMaskedLM,
        type="text",
    )


register_pipelines()

__all__ = [
    "DEFAULT_BATCH_SIZE",
    "FILL_MASK_SPANS_TASK",
    "FillMaskSpansPipeline",
    "mask_span",
    "masked_positions",
    "missing_mask_message",
    "register_pipelines",
]
