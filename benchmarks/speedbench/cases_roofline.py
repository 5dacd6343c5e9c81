"""Roofline case: achieved GFLOP/s of the latent self-attention stack against a large fp32 matmul."""

from __future__ import annotations

from typing import Any, Callable, Optional

import torch

from .measure import measure, target
from .models import ModelPair

PEAK = "torch.matmul"
PEAK_ONEDNN = "oneDNN matmul (reference)"
THEIRS = "transformers latent stack"
OURS = "perceiver-hf latent stack"


def _onednn_matmul(a: torch.Tensor, b: torch.Tensor) -> Optional[Callable[[], torch.Tensor]]:
    """a @ b through oneDNN's linear (a reference kernel next to torch.matmul's MKL), if this torch has it."""
    if not (torch.backends.mkldnn.is_available() and hasattr(torch.ops.mkldnn, "_linear_pointwise")):
        return None
    weight = b.t().contiguous()  # [out, in], as a Linear holds it
    return lambda: torch.ops.mkldnn._linear_pointwise(a, weight, None, "none", [], "")


def _theirs_stack(pair: ModelPair, latents: torch.Tensor) -> Callable[[], torch.Tensor]:
    encoder = pair.theirs.perceiver.encoder

    def run() -> torch.Tensor:
        x = latents
        for _ in range(pair.config.num_blocks):
            for layer in encoder.self_attends:
                x = layer(x)[0]
        return x

    return run


def _ours_stack(pair: ModelPair, latents: torch.Tensor) -> Callable[[], torch.Tensor]:
    encoder = pair.ours.perceiver.encoder

    def run() -> torch.Tensor:
        x = latents
        for _ in range(encoder.num_self_attention_blocks):
            for layer in encoder.self_attention.layers:
                x = layer(x)[0]
        return x

    return run


@torch.inference_mode()
def roofline_case(
    pair: ModelPair, batches: list[tuple[int, int]], matmul_size: int, target_fraction: float = 0.85
) -> dict[str, Any]:
    """Latent stack at each (batch size, repeats), timed interleaved with an [n, n] @ [n, n] torch.matmul: the
    measured peak. The same matmul through oneDNN is timed too, as a reference: on CPUs where oneDNN beats
    torch's default (MKL) kernel, perceiver-hf's Linear can exceed the torch.matmul "peak"."""
    a = torch.randn(matmul_size, matmul_size)
    b = torch.randn(matmul_size, matmul_size)
    onednn = _onednn_matmul(a, b)
    points = []
    for batch, repeats in batches:
        latents = torch.randn(batch, pair.config.num_latents, pair.config.d_latents)
        functions = {PEAK: lambda: torch.matmul(a, b), **({PEAK_ONEDNN: onednn} if onednn else {})}
        functions.update({THEIRS: _theirs_stack(pair, latents), OURS: _ours_stack(pair, latents)})
        rows, outputs = measure(functions, repeats=repeats)
        diff = float((outputs[THEIRS] - outputs[OURS]).abs().max())
        by_name = {r["impl"]: r for r in rows}
        peak = by_name[PEAK]["gflop_per_s"]
        for r in rows[1:]:
            r["fraction_of_peak"] = r["gflop_per_s"] / peak
            if PEAK_ONEDNN in by_name:
                r["fraction_of_onednn"] = r["gflop_per_s"] / by_name[PEAK_ONEDNN]["gflop_per_s"]
        points.append({"batch": batch, "rows": rows, "peak_gflop_per_s": peak, "max_abs_diff_latents": diff,
                       "theirs": by_name[THEIRS], "ours": by_name[OURS]})
    return {
        "case": "roofline",
        "description": (
            f"latent stack ({pair.config.num_self_attends_per_block} self-attention layers, "
            f"{pair.config.num_latents} x {pair.config.d_latents}) vs fp32 torch.matmul {matmul_size}^3"
        ),
        "points": points,
        "agreement": {"max_abs_diff_latents": max(p["max_abs_diff_latents"] for p in points)},
        "targets": [
            target(f"latent stack at batch {p['batch']}, fraction of torch.matmul peak", p["ours"]["fraction_of_peak"],
                   target_fraction, at_most=False)
            for p in points
        ],
    }
