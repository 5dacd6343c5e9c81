"""bf16 case: our model in float32, with bfloat16 weights, and with float32 weights under CPU bf16 autocast.

Fill-mask latency (batch 1, decoding only the masked positions) and one MLM training step (forward + backward),
each timed interleaved against float32, with what bf16 costs in precision: logit differences, top-1 agreement,
loss and gradient differences, and for bf16 weights the share of an AdamW step that bf16 rounds away.
"""

from __future__ import annotations

import copy
import math
from typing import Any

import torch

from perceiver_hf import PerceiverForMaskedLM

from .agreement import Model, max_abs_diff, shipped_model_agreement, top1_agreement
from .cases_training import ours_step
from .inputs import MLMBatch, fill_mask_input, mlm_batch, random_ids
from .measure import measure, ratio

FP32 = "perceiver-hf fp32"
BF16_WEIGHTS = "perceiver-hf bf16 weights"
AUTOCAST = "perceiver-hf fp32 weights, bf16 autocast"
VARIANTS = {BF16_WEIGHTS: "bf16_weights", AUTOCAST: "bf16_autocast"}  # row name -> short name in the results
ADAMW_LR = 1e-4


def bf16_weights(model: PerceiverForMaskedLM) -> PerceiverForMaskedLM:
    """A copy of `model` with every parameter and floating-point buffer in bfloat16."""
    return copy.deepcopy(model).to(torch.bfloat16)


class Autocast:
    """Calls `model` under CPU autocast to bfloat16: float32 weights, matmuls in bf16 (torch's autocast op list)."""

    def __init__(self, model: PerceiverForMaskedLM) -> None:
        self.model = model

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        with torch.autocast("cpu", dtype=torch.bfloat16):
            return self.model(*args, **kwargs)


def _speedups(rows: list[dict[str, Any]]) -> dict[str, float]:
    return {f"{short} speedup over fp32": 1 / ratio(rows, name, FP32) for name, short in VARIANTS.items()}


@torch.inference_mode()
def _fill_mask_point(ours: PerceiverForMaskedLM, bf16: PerceiverForMaskedLM, repeats: int) -> dict[str, Any]:
    """fp32 / bf16 weights / autocast fill-mask latency; logit difference on the sentence, top-1 agreement on 16."""
    x = fill_mask_input()
    models: dict[str, Model] = {FP32: ours, BF16_WEIGHTS: bf16, AUTOCAST: Autocast(ours)}
    functions = {
        name: lambda model=model: model(x.input_ids, output_positions=x.masked_positions).logits[0]  # [K, V]
        for name, model in models.items()
    }
    rows, outputs = measure(functions, repeats=repeats)
    agreement: dict[str, Any] = {"max_abs_logit_fp32": float(outputs[FP32].abs().max())}
    for name, short in VARIANTS.items():
        agreement[f"max_abs_diff_logits_{short}_vs_fp32"] = max_abs_diff(outputs[name], outputs[FP32])
        agreement[f"top1_equal_{short}"] = bool((outputs[name].argmax(-1) == outputs[FP32].argmax(-1)).all())
        measured = top1_agreement(ours, models[name])
        agreement[f"top1_agreement_{short}"] = measured["top1_agreement"]
        agreement["masked_positions"] = measured["masked_positions"]
    shipped = {BF16_WEIGHTS: shipped_model_agreement(bf16_weights), AUTOCAST: shipped_model_agreement(Autocast)}
    for name, short in VARIANTS.items():
        if shipped[name]:
            agreement[f"top1_agreement_{short}_shipped_model"] = shipped[name]["top1_agreement_shipped_model"]
    return {
        "what": "fill-mask",
        "description": f"fill-mask, batch 1, {x.input_ids.shape[1]}-byte sentence, {x.masked_positions.shape[1]} "
        "masked bytes, decoding only the masked positions",
        "rows": rows,
        "ratios": _speedups(rows),
        "agreement": agreement,
    }


def _gradient_cosine(model: torch.nn.Module, reference: dict[str, torch.Tensor]) -> float:
    """Cosine similarity of all of `model`'s gradients, as one vector, with `reference` (name -> float32 grad)."""
    dot = norm = reference_norm = 0.0
    for name, parameter in model.named_parameters():
        grad, expected = parameter.grad.float(), reference[name]
        dot += float((grad * expected).sum())
        norm += float(grad.square().sum())
        reference_norm += float(expected.square().sum())
    return dot / math.sqrt(norm * reference_norm)


def _unchanged_by_adamw(model: torch.nn.Module) -> float:
    """Share of the parameter elements with a non-zero gradient that one AdamW step (lr `ADAMW_LR`) leaves
    unchanged: the update is smaller than half the spacing of bf16 numbers around the weight, so it rounds away."""
    before = [p.detach().clone() for p in model.parameters()]
    torch.optim.AdamW(model.parameters(), lr=ADAMW_LR).step()
    unchanged = total = 0
    with torch.no_grad():
        for parameter, old in zip(model.parameters(), before):
            moved = parameter.grad != 0
            unchanged += int((parameter[moved] == old[moved]).sum())
            total += int(moved.sum())
            parameter.copy_(old)
    return unchanged / total


def _gradient_agreement(ours: PerceiverForMaskedLM, bf16: PerceiverForMaskedLM, mlm: MLMBatch) -> dict[str, Any]:
    """Loss and gradient of one step of each variant against float32's, and the bf16 weights' lost updates."""
    fp32_loss = ours_step(ours, mlm)()
    reference = {name: p.grad.detach().clone() for name, p in ours.named_parameters()}
    losses = {AUTOCAST: ours_step(ours, mlm, autocast=torch.bfloat16)(), BF16_WEIGHTS: ours_step(bf16, mlm)()}
    cosines = {AUTOCAST: _gradient_cosine(ours, reference), BF16_WEIGHTS: _gradient_cosine(bf16, reference)}
    agreement: dict[str, Any] = {"loss_fp32": float(fp32_loss)}
    for name, short in VARIANTS.items():
        agreement[f"abs_diff_loss_{short}"] = float((losses[name].float() - fp32_loss).abs())
        agreement[f"gradient_cosine_{short}_vs_fp32"] = cosines[name]
    agreement["adamw_lr"] = ADAMW_LR
    agreement["adamw_updates_lost_bf16_weights"] = _unchanged_by_adamw(bf16)
    agreement["adamw_updates_lost_fp32"] = _unchanged_by_adamw(ours)
    return agreement


def _train_point(ours: PerceiverForMaskedLM, bf16: PerceiverForMaskedLM, batch: int, length: int,
                 repeats: int, mask_fraction: float = 0.15) -> dict[str, Any]:
    """fp32 / bf16 weights / autocast training step (zero_grad + forward + backward) on one MLM batch."""
    mlm = mlm_batch(random_ids(batch, length, ours.config.vocab_size), mask_fraction)
    steps = {FP32: ours_step(ours, mlm), BF16_WEIGHTS: ours_step(bf16, mlm),
             AUTOCAST: ours_step(ours, mlm, autocast=torch.bfloat16)}
    ours.train()
    bf16.train()
    try:
        rows, _ = measure(steps, repeats=repeats)
        agreement = _gradient_agreement(ours, bf16, mlm)
    finally:
        for model in (ours, bf16):
            model.zero_grad(set_to_none=True)
            model.eval()
    return {
        "what": "training step",
        "description": f"MLM training step (forward + backward), batch {batch} x {length} tokens, "
        f"{mask_fraction:.0%} masked",
        "rows": rows,
        "ratios": _speedups(rows),
        "agreement": agreement,
    }


def bf16_case(ours: PerceiverForMaskedLM, repeats: int, train_batch: int, train_length: int,
              heavy_repeats: int) -> dict[str, Any]:
    """The fill-mask and training-step points; rows, ratios and agreement also flattened, labelled by point."""
    bf16 = bf16_weights(ours)
    points = [_fill_mask_point(ours, bf16, repeats),
              _train_point(ours, bf16, train_batch, train_length, heavy_repeats)]
    return {
        "case": "bf16",
        "description": "bfloat16 vs float32 (ours): bf16 weights, and float32 weights under CPU bf16 autocast",
        "points": points,
        "rows": [dict(r, impl=f"{r['impl']} ({p['what']})") for p in points for r in p["rows"]],
        "ratios": {f"{k} ({p['what']})": v for p in points for k, v in p["ratios"].items()},
        "agreement": {f"{k} ({p['what']})": v for p in points for k, v in p["agreement"].items()},
        "targets": [],
    }
