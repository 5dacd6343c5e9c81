"""The model a conversion produces: its parameter names and shapes, and the config fields a saved folder needs."""

from __future__ import annotations

import torch

from ..configuration_perceiver import PerceiverConfig
from ..modeling_perceiver import PerceiverForMaskedLM
from .mapping import Shape


def expected_parameter_shapes(config: PerceiverConfig) -> dict[str, Shape]:
    """State-dict key -> shape of `PerceiverForMaskedLM(config)`, without the tied output matrix.

    The model is built on the meta device, so no memory is allocated and nothing is initialised.
    """
    with torch.device("meta"):
        model = PerceiverForMaskedLM(config)
    tied = set(PerceiverForMaskedLM._tied_weights_keys) if config.tie_word_embeddings else set()
    return {name: tuple(tensor.shape) for name, tensor in model.state_dict().items() if name not in tied}


def mark_as_masked_lm(config: PerceiverConfig) -> PerceiverConfig:
    """Record, as `save_pretrained` of the model would, the architecture and the dtype (float32) of the weights."""
    config.architectures = [PerceiverForMaskedLM.__name__]
    config.dtype = torch.float32
    return config
