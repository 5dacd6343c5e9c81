"""Quantization case: int8 dynamic quantization against float32, same model (ours), fill-mask latency."""

from __future__ import annotations

from typing import Any

import torch

from perceiver_hf import PerceiverForMaskedLM, quantize_dynamic_int8
from perceiver_hf.pretrained import pretrained_model_path

from .inputs import agreement_batch, fill_mask_input
from .measure import measure, ratio, target

FP32 = "perceiver-hf fp32"
INT8 = "perceiver-hf int8 dynamic"


@torch.inference_mode()
def top1_agreement(fp32: PerceiverForMaskedLM, int8: PerceiverForMaskedLM) -> dict[str, Any]:
    """Share of masked positions where both models predict the same top-1 token (16 sentences, 15% masked)."""
    batch = agreement_batch()
    predictions = [m(batch.input_ids, output_positions=batch.positions).logits.argmax(-1) for m in (fp32, int8)]
    return {
        "top1_agreement": float((predictions[0] == predictions[1]).float().mean()),
        "masked_positions": int(batch.positions.numel()),
    }


def shipped_model_agreement() -> dict[str, Any]:
    """`top1_agreement` for the trained model shipped with the package (perceiver-bytes-small), if installed.

    A randomly initialised model has small margins between its top candidates, so it understates agreement.
    """
    try:
        path = pretrained_model_path()
    except ValueError:
        return {}
    model = PerceiverForMaskedLM.from_pretrained(path, dtype=torch.float32).eval()
    return {"top1_agreement_shipped_model": top1_agreement(model, quantize_dynamic_int8(model))["top1_agreement"]}


@torch.inference_mode()
def quantization_case(ours: PerceiverForMaskedLM, repeats: int, target_speedup: float = 1.7) -> dict[str, Any]:
    """fp32 vs int8 fill-mask latency (batch 1, decoding only the masked positions) and top-1 agreement."""
    int8 = quantize_dynamic_int8(ours)
    x = fill_mask_input()
    functions = {
        FP32: lambda: ours(x.input_ids, output_positions=x.masked_positions).logits[0],
        INT8: lambda: int8(x.input_ids, output_positions=x.masked_positions).logits[0],
    }
    rows, outputs = measure(functions, repeats=repeats)
    speedup = 1 / ratio(rows, INT8, FP32)
    return {
        "case": "quantization",
        "description": "int8 dynamic quantization vs fp32 (ours), fill-mask, batch 1, decoding only the masked positions",
        "rows": rows,
        "ratios": {"int8 speedup over fp32": speedup},
        "agreement": {
            "max_abs_diff_logits_vs_fp32": float((outputs[FP32] - outputs[INT8]).abs().max()),
            **top1_agreement(ours, int8),
            **shipped_model_agreement(),
        },
        "targets": [target("int8 speedup over fp32 (fill-mask)", speedup, target_speedup, at_most=False)],
    }
