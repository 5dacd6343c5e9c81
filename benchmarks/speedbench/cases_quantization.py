"""Quantization case: int8 dynamic quantization against float32, same model (ours), fill-mask latency."""

from __future__ import annotations

from typing import Any

import torch

from perceiver_hf import PerceiverForMaskedLM, quantize_dynamic_int8

from .agreement import max_abs_diff, shipped_model_agreement, top1_agreement
from .inputs import fill_mask_input
from .measure import measure, ratio, target

FP32 = "perceiver-hf fp32"
INT8 = "perceiver-hf int8 dynamic"


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
            "max_abs_diff_logits_vs_fp32": max_abs_diff(outputs[FP32], outputs[INT8]),
            **top1_agreement(ours, int8),
            **shipped_model_agreement(quantize_dynamic_int8),
        },
        "targets": [target("int8 speedup over fp32 (fill-mask)", speedup, target_speedup, at_most=False)],
    }
