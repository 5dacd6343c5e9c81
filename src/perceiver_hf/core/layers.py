"""Pre-norm Perceiver layers: MLP, cross-attention layer, self-attention layer and block.

Semantics follow DeepMind's perceiver.py: pre-norm everywhere, the MLP residual is always present, the
cross-attention query residual is optional (on in the encoder, off in the MLM decoder), no final norm.
"""

from __future__ import annotations

from typing import Callable, Optional

import torch
import torch.nn.functional as F
from torch import nn

from .attention import MultiHeadAttention
from .linear import Linear

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
    """Linear(C -> widening_factor * C), activation, Linear(-> C)."""

    def __init__(self, num_channels: int, widening_factor: int = 1, activation: str = "gelu_tanh") -> None:
        super().__init__()
        self.fc1 = Linear(num_channels, widening_factor * num_channels)
        self.fc2 = Linear(widening_factor * num_channels, num_channels)
        self.activation_name = activation
        self.activation = get_activation(activation)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # [B, N, C] -> [B, N, C]
        return self.fc2(self.activation(self.fc1(x)))


class CrossAttentionLayer(nn.Module):
    """x = [x_q +] Attn(LN(x_q), LN(x_kv)); x = x + MLP(LN(x)).

    Args:
        num_heads: attention heads.
        num_q_input_channels: query (and output) width.
        num_kv_input_channels: key/value width.
        num_qk_channels: total q/k width (default: `num_q_input_channels`).
        num_v_channels: total value width (default: `num_qk_channels`).
        widening_factor: MLP widening factor.
        residual: add the query input back after attention (DeepMind's `use_query_residual`).
        dropout: dropout on attention probabilities and on both residual branches.
        activation: MLP activation name.
        layer_norm_eps: LayerNorm epsilon (DeepMind/Haiku: 1e-5).
    """

    def __init__(
        self,
        *,
        num_heads: int,
        num_q_input_channels: int,
        num_kv_input_channels: int,
        num_qk_channels: Optional[int] = None,
        num_v_channels: Optional[int] = None,
        widening_factor: int = 1,
        residual: bool = True,
        dropout: float = 0.0,
        activation: str = "gelu_tanh",
        layer_norm_eps: float = 1e-5,
    ) -> None:
        super().__init__()
        self.q_norm = nn.LayerNorm(num_q_input_channels, eps=layer_norm_eps)
        self.kv_norm = nn.LayerNorm(num_kv_input_channels, eps=layer_norm_eps)
        self.attention = MultiHeadAttention(
            num_heads=num_heads,
            num_q_input_channels=num_q_input_channels,
            num_kv_input_channels=num_kv_input_channels,
            num_qk_channels=num_qk_channels,
            num_v_channels=num_v_channels,
            num_output_channels=num_q_input_channels,
            dropout=dropout,
        )
        self.mlp_norm = nn.LayerNorm(num_q_input_channels, eps=layer_norm_eps)
        self.mlp = MLP(num_q_input_channels, widening_factor, activation)
        self.residual = residual
        self.dropout = nn.Dropout(dropout)

    def forward(
        self,
        x_q: torch.Tensor,
        x_kv: torch.Tensor,
        key_mask: Optional[torch.Tensor] = None,
        query_mask: Optional[torch.Tensor] = None,
        return_weights: bool = False,
    ) -> tuple[torch.Tensor, Optional[torch.Tensor]]:
        """x_q [B, N, Cq], x_kv [B, L, Ckv], masks as in `MultiHeadAttention` -> ([B, N, Cq], weights)."""
        h, weights = self.attention(
            self.q_norm(x_q), self.kv_norm(x_kv), key_mask=key_mask, query_mask=query_mask, return_weights=return_weights
        )
        x = x_q + self.dropout(h) if self.residual else self.dropout(h)  # [B, N, Cq]
        x = x + self.dropout(self.mlp(self.mlp_norm(x)))
        return x, weights


class SelfAttentionLayer(nn.Module):
    """x = x + Attn(LN(x), LN(x)); x = x + MLP(LN(x)). Unmasked, as the latent self-attention is in DeepMind's code.

    Args:
        num_heads: attention heads.
        num_channels: residual width.
        num_qk_channels: total q/k width (default: `num_channels`).
        num_v_channels: total value width (default: `num_qk_channels`).
        widening_factor: MLP widening factor.
        dropout: dropout on attention probabilities and on both residual branches.
        activation: MLP activation name.
        layer_norm_eps: LayerNorm epsilon.
    """

    def __init__(
        self,
        *,
        num_heads: int,
        num_channels: int,
        num_qk_channels: Optional[int] = None,
        num_v_channels: Optional[int] = None,
        widening_factor: int = 1,
        dropout: float = 0.0,
        activation: str = "gelu_tanh",
        layer_norm_eps: float = 1e-5,
    ) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(num_channels, eps=layer_norm_eps)
        self.attention = MultiHeadAttention(
            num_heads=num_heads,
            num_q_input_channels=num_channels,
            num_kv_input_channels=num_channels,
            num_qk_channels=num_qk_channels,
            num_v_channels=num_v_channels,
            num_output_channels=num_channels,
            dropout=dropout,
        )
        self.mlp_norm = nn.LayerNorm(num_channels, eps=layer_norm_eps)
        self.mlp = MLP(num_channels, widening_factor, activation)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor, return_weights: bool = False) -> tuple[torch.Tensor, Optional[torch.Tensor]]:
        """x [B, N, C] -> ([B, N, C], weights [B, H, N, N] or None)."""
        h = self.norm(x)
        h, weights = self.attention(h, h, return_weights=return_weights)
        x = x + self.dropout(h)
        x = x + self.dropout(self.mlp(self.mlp_norm(x)))
        return x, weights


class SelfAttentionBlock(nn.Module):
    """`num_layers` self-attention layers applied in order; the encoder may apply the block several times."""

    def __init__(self, *, num_layers: int, **layer_kwargs) -> None:
        super().__init__()
        if num_layers < 1:
            raise ValueError(f"A self-attention block needs at least one layer, got num_layers={num_layers}.")
        self.layers = nn.ModuleList(SelfAttentionLayer(**layer_kwargs) for _ in range(num_layers))
