"""Training case: one masked-language-modelling step (forward + backward), both implementations."""

from __future__ import annotations

from typing import Any, Callable, Optional

import torch

from .inputs import MLMBatch, mlm_batch, pad_to, random_ids
from .measure import measure, ratio, target
from .models import ModelPair
from .timing import interleaved

THEIRS = "transformers, inputs and labels padded to max_seq_len"
OURS = "perceiver-hf, decoding only the masked positions"


def _grad_diff(a: torch.nn.Parameter, b: torch.nn.Parameter) -> float:
    return float((a.grad - b.grad).abs().max())


def _optimizer_step_seconds(model: torch.nn.Module, repeats: int) -> float:
    """Median time of an AdamW step over tensors shaped like `model`'s parameters (the same for both models)."""
    params = [torch.nn.Parameter(torch.zeros_like(p)) for p in model.parameters()]
    for p in params:
        p.grad = torch.full_like(p, 1e-3)
    optimizer = torch.optim.AdamW(params, lr=1e-4)
    timing = interleaved({"adamw": optimizer.step}, repeats=repeats)["adamw"]
    return timing.median


def ours_step(
    model: torch.nn.Module, mlm: MLMBatch, autocast: Optional[torch.dtype] = None
) -> Callable[[], torch.Tensor]:
    """One step of our model on `mlm` (zero_grad, forward decoding only the masked positions, backward), as a
    function returning the loss; the forward under CPU autocast to `autocast` when given."""

    def step() -> torch.Tensor:
        model.zero_grad(set_to_none=True)
        with torch.autocast("cpu", dtype=autocast or torch.bfloat16, enabled=autocast is not None):
            loss = model(mlm.input_ids, output_positions=mlm.positions, labels=mlm.position_labels).loss
        loss.backward()
        return loss.detach()

    return step


def train_case(
    pair: ModelPair,
    key: str,
    name: str,
    batch: int,
    length: int,
    repeats: int,
    target_ratio: float,
    mask_fraction: float = 0.15,
) -> dict[str, Any]:
    """zero_grad + forward + loss + backward on a `batch` x `length` batch with `mask_fraction` of it masked.

    `key` names the case in the results ("train_byte"), `name` the configuration in the table.
    """
    config = pair.config
    mlm = mlm_batch(random_ids(batch, length, config.vocab_size), mask_fraction)
    theirs_ids, theirs_mask = pad_to(mlm.input_ids, config.max_position_embeddings)
    theirs_labels = torch.full_like(theirs_ids, -100)
    theirs_labels[:, :length] = mlm.labels

    def theirs_step() -> torch.Tensor:
        pair.theirs.zero_grad(set_to_none=True)
        loss = pair.theirs(input_ids=theirs_ids, attention_mask=theirs_mask, labels=theirs_labels).loss
        loss.backward()
        return loss.detach()

    pair.theirs.train()
    pair.ours.train()
    try:
        rows, losses = measure({THEIRS: theirs_step, OURS: ours_step(pair.ours, mlm)}, repeats=repeats)
        agreement = {  # gradients of the last step of each
            "abs_diff_loss": float((losses[THEIRS] - losses[OURS]).abs()),
            "max_abs_diff_grad_latents": _grad_diff(
                pair.theirs.perceiver.embeddings.latents, pair.ours.perceiver.encoder.latent_provider.query
            ),
            "max_abs_diff_grad_embedding": _grad_diff(
                pair.theirs.perceiver.input_preprocessor.embeddings.weight,
                pair.ours.perceiver.encoder.input_adapter.text_embedding.weight,
            ),
        }
    finally:
        pair.theirs.zero_grad(set_to_none=True)
        pair.ours.zero_grad(set_to_none=True)
        pair.theirs.eval()
        pair.ours.eval()
    step_ratio = ratio(rows, OURS, THEIRS)
    return {
        "case": key,
        "description": (
            f"MLM training step (forward + backward), {name}, batch {batch} x {length} tokens, "
            f"{mask_fraction:.0%} masked, vocab {config.vocab_size}"
        ),
        "rows": rows,
        "ratios": {"ours / transformers": step_ratio},
        "agreement": agreement,
        "optimizer_step_s": _optimizer_step_seconds(pair.ours, repeats=2),
        "targets": [target(f"training step ({name}), ours / transformers", step_ratio, target_ratio)],
    }
