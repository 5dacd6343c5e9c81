"""What the client tests (tests/clients/) count and compare: the attention linears a config implies, and how far
two sets of logits are apart.

The counts come from the config alone, not from the model, so that a tool that silently skips some linears (as
quantizers did while the model swapped `nn.Linear` for a subclass) shows as a wrong count.
"""

from __future__ import annotations

import torch

from perceiver_hf import PerceiverConfig

ATTENTION_PROJECTIONS = ("q_proj", "k_proj", "v_proj", "o_proj")
"""The four linears of every attention (query, key, value, output), the names LoRA targets."""

LINEARS_PER_ATTENTION_LAYER = len(ATTENTION_PROJECTIONS) + 2
"""q, k, v and o projections plus the two layers of the MLP that follows each attention."""


def num_attention_layers(config: PerceiverConfig, decoder: bool = True) -> int:
    """Attention layers with their own weights in the tiny test configs.

    One encoder cross-attention, the self-attention layers of one block (the block's repeats share its weights),
    and the decoder's cross-attention unless `decoder=False` (the sequence classifier's backbone has none).
    """
    if config.num_cross_attention_layers != 1 or config.num_self_attention_blocks != 1:
        raise ValueError("num_attention_layers counts configs with one cross-attention and one self-attention block.")
    return 1 + config.num_self_attention_layers_per_block + int(decoder)


def relative_error(approx: torch.Tensor, exact: torch.Tensor) -> float:
    """max |approx - exact| / max |exact|."""
    return float((approx - exact).abs().max() / exact.abs().max())


def top1_agreement(approx: torch.Tensor, exact: torch.Tensor) -> float:
    """The fraction of positions whose argmax over the last dimension is the same in both."""
    return float((approx.argmax(-1) == exact.argmax(-1)).float().mean())
