"""Sizes in a perceiver-io library's settings are checked against the weights the file actually holds.

A count or width in the settings decides how much a conversion builds (layers, label names, the model it checks
the weights against) before any weight is compared with it, so a settings value of 10**9 beside a few kilobytes of
weights would cost gigabytes or hours. `check_sizes_fit_weights` runs before the configuration is built: no size
may exceed the number of values the weights hold in all, and a classifier's `num_classes` must be the row count
of its output layer. Time is proportional to the number of settings and tensors.
"""

from __future__ import annotations

from typing import Any, Mapping, Optional

import torch

from .errors import ConversionError


def _sizes(settings: Mapping[str, Any]) -> list[tuple[str, int]]:
    """(field, value) of every integer in the settings and in their encoder/decoder sections."""
    sections = [("", settings)] + [
        (f"{name}.", section) for name, section in settings.items() if isinstance(section, Mapping)
    ]
    return [
        (f"{prefix}{field}", value)
        for prefix, section in sections
        for field, value in section.items()
        if isinstance(value, int) and not isinstance(value, bool)
    ]


def check_sizes_fit_weights(
    settings: Mapping[str, Any], tensors: Mapping[str, torch.Tensor], what: str, classifier_weight: Optional[str] = None
) -> None:
    """Refuse (one-line `ConversionError`) settings whose sizes the weights cannot hold.

    Args:
        settings: the library's model settings ({"encoder": {...}, "decoder": {...}, "num_latents": N, ...}).
        tensors: the checkpoint's weights (already checked to hold the numbers they claim).
        what: names the checkpoint in messages.
        classifier_weight: the key of a text classifier's output layer [num_classes, F] (None for a masked LM).
    """
    total = sum(tensor.numel() for tensor in tensors.values())
    for field, value in _sizes(settings):
        if value > total:
            raise ConversionError(
                f"{what}: the settings say {field}={value:,}, but the weights hold {total:,} values in all, so no "
                "size can be that large; the settings do not belong to these weights (fix them, or pass the right "
                "ones)."
            )
    decoder = settings.get("decoder")
    num_classes = decoder.get("num_classes") if isinstance(decoder, Mapping) else None
    if classifier_weight is None or classifier_weight not in tensors or not isinstance(num_classes, int):
        return
    rows = tensors[classifier_weight].shape[0] if tensors[classifier_weight].dim() else 0
    if num_classes != rows:
        raise ConversionError(
            f"{what}: the settings say num_classes={num_classes:,}, but the classifier's output layer "
            f"({classifier_weight}) has {rows:,} rows; the settings do not belong to these weights."
        )


__all__ = ["check_sizes_fit_weights"]
