"""The model a conversion produces: its parameter names and shapes, and the config fields a saved folder needs."""

from __future__ import annotations

from typing import Any

import torch
from transformers import PreTrainedConfig

from ..configuration_perceiver import PerceiverConfig
from ..modeling_perceiver import PerceiverForMaskedLM
from .mapping import Shape


def expected_parameter_shapes(config: PerceiverConfig, model_class: Any = PerceiverForMaskedLM) -> dict[str, Shape]:
    """State-dict key -> shape of `model_class(config)` (default `PerceiverForMaskedLM`), without tied copies.

    The model is built on the meta device, so no memory is allocated and nothing is initialised.
    """
    with torch.device("meta"):
        model = model_class(config)
    tied = set(getattr(model_class, "_tied_weights_keys", None) or ()) if config.tie_word_embeddings else set()
    return {name: tuple(tensor.shape) for name, tensor in model.state_dict().items() if name not in tied}


def mark_architecture(config: PreTrainedConfig, model_class: Any = PerceiverForMaskedLM) -> PreTrainedConfig:
    """Record, as `save_pretrained` of the model would, the architecture (default `PerceiverForMaskedLM`) and
    the dtype (float32) of the weights."""
    config.architectures = [model_class.__name__]
    config.dtype = torch.float32
    return config
