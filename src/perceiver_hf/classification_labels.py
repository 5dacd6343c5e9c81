"""Checks of classification labels that turn would-be torch crashes (or silent nonsense) into clear messages.

As the model-input checks (`input_validation`): shapes and dtypes are checked always, label values (which read
the tensors: `int(labels.max())`) only in eager mode, so a compiled or exported training step has no graph break.
"""

from __future__ import annotations

from typing import Optional

import torch

from .tracing import capturing_graph

IGNORED_LABEL = -100
"""A token label that is not scored (transformers' convention)."""


def _shape(tensor: torch.Tensor) -> str:
    return "[" + ", ".join(str(size) for size in tensor.shape) + "]"


def _check_range(scored: torch.Tensor, num_labels: int, what: str) -> None:
    if capturing_graph() or not scored.numel() or scored.is_meta:
        return
    if int(scored.min()) < 0 or int(scored.max()) >= num_labels:
        raise ValueError(
            f"{what} contain class ids outside [0, {num_labels}): min {int(scored.min())}, max {int(scored.max())}; "
            f"map the labels to 0..{num_labels - 1} (config.label2id) or load the model with num_labels=<number of "
            "classes>."
        )


def check_sequence_labels(labels: torch.Tensor, batch_size: int, num_labels: int) -> None:
    """Validate sequence classification labels: integer class ids [B] (single-label), or floats [B] / [B,
    num_labels] (regression / multi-label, which transformers' loss reads from `problem_type` and the dtype)."""
    if not torch.is_tensor(labels):
        raise ValueError(f"labels must be a tensor, got a {type(labels).__name__}; pass torch.tensor(labels).")
    if labels.shape[:1] != (batch_size,):
        raise ValueError(f"labels have shape {_shape(labels)} but the batch has {batch_size} sequences.")
    if not labels.dtype.is_floating_point and labels.dtype != torch.bool:
        _check_range(labels, num_labels, "labels")


def check_token_labels(
    labels: torch.Tensor, num_labels: int, query_mask: Optional[torch.Tensor]
) -> torch.Tensor:
    """Token labels [B, K] (already aligned with the decoded positions) with padded positions set to -100.

    Args:
        labels: integer class ids per decoded position, -100 where no loss is wanted.
        num_labels: number of classes.
        query_mask: [B, K], 0 at padded positions (never scored, whatever their label), or None.
    """
    if query_mask is not None:
        labels = labels.masked_fill(query_mask.to(labels.device) == 0, IGNORED_LABEL)
    if not capturing_graph():  # boolean indexing has a data-dependent shape
        _check_range(labels[labels != IGNORED_LABEL], num_labels, "token labels")
    return labels


__all__ = ["IGNORED_LABEL", "check_sequence_labels", "check_token_labels"]
