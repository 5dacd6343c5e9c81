"""How far a variant of a model (int8, bf16, another implementation) is from the reference: logits, top-1."""

from __future__ import annotations

from typing import Any, Callable

import torch

from perceiver_hf import PerceiverForMaskedLM
from perceiver_hf.pretrained import pretrained_model_path

from .inputs import agreement_batch

Model = Callable[..., Any]  # a masked LM, or a function that calls one (e.g. under autocast)


def max_abs_diff(a: torch.Tensor, b: torch.Tensor) -> float:
    """Largest absolute difference of two tensors of the same shape, compared in float32."""
    return float((a.float() - b.float()).abs().max())


@torch.inference_mode()
def top1_agreement(reference: Model, other: Model) -> dict[str, Any]:
    """Share of masked positions where both models predict the same top-1 token (16 sentences, 15% masked)."""
    batch = agreement_batch()
    predictions = [m(batch.input_ids, output_positions=batch.positions).logits.argmax(-1) for m in (reference, other)]
    return {
        "top1_agreement": float((predictions[0] == predictions[1]).float().mean()),
        "masked_positions": int(batch.positions.numel()),
    }


def shipped_model_agreement(variant: Callable[[PerceiverForMaskedLM], Model]) -> dict[str, Any]:
    """`top1_agreement` of the trained model shipped with the package (perceiver-bytes-small), if installed, and
    `variant(model)`.

    A randomly initialised model has small margins between its top candidates, so it understates agreement.
    """
    try:
        path = pretrained_model_path()
    except ValueError:
        return {}
    model = PerceiverForMaskedLM.from_pretrained(path, dtype=torch.float32).eval()
    return {"top1_agreement_shipped_model": top1_agreement(model, variant(model))["top1_agreement"]}
