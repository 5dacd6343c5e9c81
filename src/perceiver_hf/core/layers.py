"""Pre-norm Perceiver layers: MLP, cross-attention layer, self-attention layer and block.

Semantics follow DeepMind's perceiver.py: pre-norm everywhere, the MLP residual is always present, the
cross-attention query residual is optional (on in the encoder, off in the MLM decoder), no final norm.

Both attention layers are transformers' `GradientCheckpointingLayer`s (the one transformers import of the core):
`model.gradient_checkpointing_enable(...)` / `activation_checkpointing_enable(...)` of a `PreTrainedModel`, or
`layer.gradient_checkpointing = True` plus `layer._gradient_checkpointing_func = ...` on a plain module, makes
each layer recompute its forward in the backward pass. Their tensors are passed positionally, as that class
requires for reentrant checkpointing.
"""

from __future__ import annotations

from typing import Callable, Optional

import torch
import torch.nn.functional as F
from torch import nn
from transformers.modeling_layers import GradientCheckpointingLayer

from .attention import AttentionFunction, MultiHeadAttention
from .specs import DEFAULT_ACTIVATION, AttentionSpec

ACTIVATIONS: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
    # DeepMind's jax.nn.gelu default (tanh approximation); transformers calls it gelu_new / gelu_pytorch_tanh.
    "gelu_tanh": lambda x: F.gelu(x, approximate="tanh"),
    "gelu_new": lambda x: F.gelu(x, approximate="tanh"),
    "gelu_pytorch_tanh": lambda x: F.gelu(x, approximate="tanh"),
    # exact erf GELU (transformers' Perceiver default "gelu")
    "gelu": F.gelu,
    "relu": F.relu,
    "silu": F.silu,
}


def get_activation(name: str) -> Callable[[torch.Tensor], torch.Tensor]:
    """Return the activation function called `name` (one of `ACTIVATIONS`)."""
    if name not in ACTIVATIONS:
        raise ValueError(f"Unknown activation {name!r}; choose one of {sorted(ACTIVATIONS)}.")
    return ACTIVATIONS[name]


class MLP(nn.Module):
    """Linear(C -> widening_factor * C), activation, Linear(-> C), with or without biases."""

    def __init__(
        self, num_channels: int, widening_factor: int = 1, activation: str = DEFAULT_ACTIVATION, bias: bool = True
    ) -> None:
        super().__init__()
        self.fc1 = nn.Linear(num_channels, widening_factor * num_channels, bias=bias)
        self.fc2 = nn.Linear(widening_factor * num_channels, num_channels, bias=bias)
        self.activation_name = activation
        self.activation = get_activation(activation)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # [B, N, C] -> [B, N, C]
        return self.fc2(self.activation(self.fc1(x)))


def _attention(spec: AttentionSpec, num_q_input_channels: int, num_kv_input_channels: int, default_qk_channels: int) -> MultiHeadAttention:
    num_qk_channels, num_v_channels = spec.widths(default_qk_channels)
    return MultiHeadAttention(
        num_heads=spec.num_heads,
        num_q_input_channels=num_q_input_channels,
        num_kv_input_channels=num_kv_input_channels,
        num_qk_channels=num_qk_channels,
        num_v_channels=num_v_channels,
        num_output_channels=num_q_input_channels,
        dropout=spec.dropout,
        qkv_bias=spec.qkv_bias,
        out_bias=spec.out_bias,
    )


class _AttentionLayer(GradientCheckpointingLayer):
    """The MLP half shared by both layers: x = x + dropout(MLP(LN(x)))."""

    def _init_mlp(self, spec: AttentionSpec, num_channels: int) -> None:
        self.mlp_norm = nn.LayerNorm(num_channels, eps=spec.layer_norm_eps)
        self.mlp = MLP(num_channels, spec.widening_factor, spec.activation, bias=spec.mlp_bias)
        self.dropout = nn.Dropout(spec.dropout if spec.residual_dropout is None else spec.residual_dropout)

    def _mlp_residual(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.dropout(self.mlp(self.mlp_norm(x)))


class CrossAttentionLayer(_AttentionLayer):
    """x = [x_q +] Attn(LN(x_q), LN(x_kv)); x = x + MLP(LN(x)).

    Args:
        spec: heads, widths, MLP widening, query residual (`spec.residual`), dropout, activation, LayerNorm eps.
        num_q_input_channels: query (and output) width.
        num_kv_input_channels: key/value width.
        default_qk_channels: the q/k width when `spec.num_qk_channels` is unset.
    """

    def __init__(
        self, spec: AttentionSpec, num_q_input_channels: int, num_kv_input_channels: int, default_qk_channels: int
    ) -> None:
        super().__init__()
        self.q_norm = nn.LayerNorm(num_q_input_channels, eps=spec.layer_norm_eps)
        self.kv_norm = nn.LayerNorm(num_kv_input_channels, eps=spec.layer_norm_eps)
        self.attention = _attention(spec, num_q_input_channels, num_kv_input_channels, default_qk_channels)
        self.residual = spec.residual
        self._init_mlp(spec, num_q_input_channels)

    def forward(
        self, x_q: torch.Tensor, x_kv: torch.Tensor, key_mask: Optional[torch.Tensor] = None,
        query_mask: Optional[torch.Tensor] = None, return_weights: bool = False,
        attention: Optional[AttentionFunction] = None,
    ) -> tuple[torch.Tensor, Optional[torch.Tensor]]:
        """x_q [B, N, Cq], x_kv [B, L, Ckv], masks and `attention` as in `MultiHeadAttention` -> ([B, N, Cq], weights)."""
        masks = dict(key_mask=key_mask, query_mask=query_mask)
        h, weights = self.attention(
            self.q_norm(x_q), self.kv_norm(x_kv), **masks, return_weights=return_weights, attention=attention
        )
        x = x_q + self.dropout(h) if self.residual else self.dropout(h)  # [B, N, Cq]
        return self._mlp_residual(x), weights


class SelfAttentionLayer(_AttentionLayer):
    """x = x + Attn(LN(x), LN(x)); x = x + MLP(LN(x)). Unmasked, as the latent self-attention is in DeepMind's code.

    Args:
        spec: heads, widths (unset q/k width: `num_channels`), MLP widening, dropout, activation, LayerNorm eps.
        num_channels: residual width.
    """

    def __init__(self, spec: AttentionSpec, num_channels: int) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(num_channels, eps=spec.layer_norm_eps)
        self.attention = _attention(spec, num_channels, num_channels, num_channels)
        self._init_mlp(spec, num_channels)

    def forward(
        self, x: torch.Tensor, return_weights: bool = False, attention: Optional[AttentionFunction] = None
    ) -> tuple[torch.Tensor, Optional[torch.Tensor]]:
        """x [B, N, C] -> ([B, N, C], weights [B, H, N, N] or None)."""
        h = self.norm(x)
        h, weights = self.attention(h, h, return_weights=return_weights, attention=attention)
        return self._mlp_residual(x + self.dropout(h)), weights


class SelfAttentionBlock(nn.Module):
    """`num_layers` self-attention layers applied in order; the encoder may apply the block several times."""

    def __init__(self, spec: AttentionSpec, num_channels: int, num_layers: int) -> None:
        super().__init__()
        if num_layers < 1:
            raise ValueError(f"A self-attention block needs at least one layer, got num_layers={num_layers}.")
        self.layers = nn.ModuleList(SelfAttentionLayer(spec, num_channels) for _ in range(num_layers))
