"""The number of parameters a config implies, counted on the model parts built on the meta device, and the
refusal of a model too large for this machine before anything is allocated.

`check_model_size` runs in every model's `__init__`: a config.json is input from a file, and `num_latents:
10000000` would otherwise take minutes and gigabytes before failing. Set `PERCEIVER_HF_ALLOW_LARGE_MODELS=1` to
build such a model anyway.
"""

from __future__ import annotations

import os

import torch
from torch import nn

from .configuration_perceiver import PerceiverConfig
from .model_parts import build_decoder, build_encoder

ALLOW_LARGE_ENV = "PERCEIVER_HF_ALLOW_LARGE_MODELS"
"""Set to 1 to build a model whose float32 parameters exceed half of this machine's memory."""


def _num_parameters(*modules: nn.Module) -> int:
    """Distinct parameters of `modules` (a shared one counts once)."""
    unique = {id(p): p for module in modules for p in module.parameters()}
    return sum(p.numel() for p in unique.values())


def estimated_num_parameters(config: PerceiverConfig) -> int:
    """The parameter count of `PerceiverForMaskedLM(config)`: its encoder and decoder built on the meta device
    (shapes only, nothing allocated, milliseconds whatever the size), plus the masked-LM head (its bias, and its
    own weight when the embedding is not tied)."""
    with torch.device("meta"):
        backbone = _num_parameters(build_encoder(config), build_decoder(config))
    head = config.vocab_size * (1 if config.tie_word_embeddings else config.num_input_channels + 1)
    return backbone + head


def _machine_memory_bytes() -> int:
    try:
        return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return 0


def check_model_size(config: PerceiverConfig) -> None:
    """Refuse (ValueError, with the figures) a model whose float32 parameters exceed half of this machine's memory.

    Set the environment variable `PERCEIVER_HF_ALLOW_LARGE_MODELS=1` to build it anyway.
    """
    if os.environ.get(ALLOW_LARGE_ENV) == "1":
        return
    num_parameters = estimated_num_parameters(config)
    memory = _machine_memory_bytes()
    if memory and num_parameters * 4 > memory // 2:
        raise ValueError(
            f"This config implies about {num_parameters:,} parameters ({num_parameters * 4 / 2**30:,.1f} GiB in "
            f"float32), more than half of this machine's {memory / 2**30:,.1f} GiB of memory; check num_latents, "
            f"the channel widths and max_seq_len in the config, or set {ALLOW_LARGE_ENV}=1 to build it anyway."
        )


__all__ = ["ALLOW_LARGE_ENV", "check_model_size", "estimated_num_parameters"]
