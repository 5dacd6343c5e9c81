"""Decoder-only fine-tuning: freeze a model's encoder (the perceiver-io library's `freeze` option, as a training
option: `perceiver-hf train --freeze_encoder`).

    from perceiver_hf.training.freezing import freeze_encoder
    trainable, total = freeze_encoder(model)   # only the task decoder (and an untied LM head) still trains
"""

from __future__ import annotations

import logging

from torch import nn

logger = logging.getLogger(__name__)


def _encoder_of(model: nn.Module) -> nn.Module:
    """The `PerceiverEncoder` of a perceiver-hf model (`model.perceiver.encoder`) or of a core `PerceiverIO`."""
    for path in (("perceiver", "encoder"), ("encoder",)):
        module = model
        for name in path:
            module = getattr(module, name, None)
        if isinstance(module, nn.Module):
            return module
    raise TypeError(
        f"{type(model).__name__} has no Perceiver IO encoder (model.perceiver.encoder or model.encoder); "
        "freeze_encoder works on perceiver-hf models and core PerceiverIO modules."
    )


def freeze_encoder(model: nn.Module) -> tuple[int, int]:
    """Stop gradients to every encoder parameter (input adapter, latents, cross- and self-attention).

    With tied word embeddings the masked-LM output projection is the (frozen) input embedding; its bias and
    the decoder still train. Returns (trainable parameters, all parameters) after freezing.
    """
    for parameter in _encoder_of(model).parameters():
        parameter.requires_grad_(False)
    parameters = list(model.parameters())
    trainable = sum(parameter.numel() for parameter in parameters if parameter.requires_grad)
    total = sum(parameter.numel() for parameter in parameters)
    if trainable == 0:
        raise ValueError("Freezing the encoder left no trainable parameter; drop --freeze_encoder.")
    logger.info("Encoder frozen: %s of %s parameters train.", f"{trainable:,}", f"{total:,}")
    return trainable, total


__all__ = ["freeze_encoder"]
