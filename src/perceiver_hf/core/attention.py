"""Multi-head attention with DeepMind's Perceiver semantics.

Matches `Attention` / `attend` in DeepMind's perceiver.py:

- separate q, k, v and output projections, all with bias; q/k and v may have different widths;
- logits scaled by 1/sqrt(qk channels per head), softmax over keys;
- masking is a select (a masked key gets probability exactly 0), and a query row whose keys are all masked,
  or a masked query, gets attention output 0 *before* the output projection (so it becomes the output bias).

The fast path uses `torch.nn.functional.scaled_dot_product_attention`. When q/k and v heads differ in width
on CPU (DeepMind's models: 32 vs 160 channels), torch has no fused CPU kernel and SDPA runs its math fallback,
which adds a "safe softmax" pass (isneginf/all/where over the scores); the explicit computation is the same
math without it (about 10% faster attention), so it is used there. `return_weights=True` also runs the
explicit computation, so that the attention probabilities can be returned.
"""

from __future__ import annotations

from typing import Optional

import torch
import torch.nn.functional as F
from torch import nn

from .linear import Linear


def _check_divisible(channels: int, num_heads: int, what: str) -> None:
    if channels % num_heads != 0:
        raise ValueError(
            f"{what} ({channels}) must be divisible by the number of heads ({num_heads}); "
            f"choose a channel count that is a multiple of {num_heads} or change the number of heads."
        )


ATTENTION_IMPLEMENTATIONS = ("auto", "sdpa", "eager")


def _checked_implementation(implementation: str) -> str:
    if implementation not in ATTENTION_IMPLEMENTATIONS:
        raise ValueError(f"Unknown attention implementation {implementation!r}; use one of {ATTENTION_IMPLEMENTATIONS}.")
    return implementation


def set_attention_implementation(model: nn.Module, implementation: str) -> None:
    """Use `implementation` ("auto", "sdpa" or "eager") in every `MultiHeadAttention` inside `model`."""
    implementation = _checked_implementation(implementation)
    for module in model.modules():
        if isinstance(module, MultiHeadAttention):
            module.implementation = implementation


class MultiHeadAttention(nn.Module):
    """Multi-head attention from `num_q_input_channels`-wide queries to `num_kv_input_channels`-wide keys/values.

    Args:
        num_heads: number of attention heads.
        num_q_input_channels: width of the query input.
        num_kv_input_channels: width of the key/value input.
        num_qk_channels: total width of queries and keys (default: `num_q_input_channels`).
        num_v_channels: total width of values (default: `num_qk_channels`).
        num_output_channels: width of the output projection (default: `num_q_input_channels`).
        dropout: dropout on the attention probabilities (training only).
        implementation: "sdpa" (always `scaled_dot_product_attention`), "eager" (always the explicit
            computation) or "auto" (SDPA, except on CPU when q/k and v heads differ in width: there SDPA runs its
            math fallback with an extra safe-softmax pass, and the explicit computation is the same math, faster).
            Change it later with `set_attention_implementation`.
    """

    def __init__(
        self,
        *,
        num_heads: int,
        num_q_input_channels: int,
        num_kv_input_channels: int,
        num_qk_channels: Optional[int] = None,
        num_v_channels: Optional[int] = None,
        num_output_channels: Optional[int] = None,
        dropout: float = 0.0,
        implementation: str = "auto",
    ) -> None:
        super().__init__()
        num_qk_channels = num_qk_channels or num_q_input_channels
        num_v_channels = num_v_channels or num_qk_channels
        num_output_channels = num_output_channels or num_q_input_channels
        _check_divisible(num_qk_channels, num_heads, "qk channels")
        _check_divisible(num_v_channels, num_heads, "v channels")

        self.num_heads = num_heads
        self.qk_head_channels = num_qk_channels // num_heads
        self.v_head_channels = num_v_channels // num_heads
        self.dropout = dropout
        self.implementation = _checked_implementation(implementation)

        self.q_proj = Linear(num_q_input_channels, num_qk_channels)
        self.k_proj = Linear(num_kv_input_channels, num_qk_channels)
        self.v_proj = Linear(num_kv_input_channels, num_v_channels)
        self.o_proj = Linear(num_v_channels, num_output_channels)

    def _split_heads(self, x: torch.Tensor, head_channels: int) -> torch.Tensor:
        b, n, _ = x.shape
        return x.view(b, n, self.num_heads, head_channels).transpose(1, 2)  # [B, H, N, c]

    def forward(
        self,
        x_q: torch.Tensor,
        x_kv: torch.Tensor,
        *,
        key_mask: Optional[torch.Tensor] = None,
        query_mask: Optional[torch.Tensor] = None,
        return_weights: bool = False,
    ) -> tuple[torch.Tensor, Optional[torch.Tensor]]:
        """Attend from `x_q` [B, N, Cq] to `x_kv` [B, L, Ckv].

        Args:
            key_mask: bool [B, L], True where a key may be attended to.
            query_mask: bool [B, N], True for valid queries; masked queries get attention output 0.
            return_weights: also return the attention probabilities [B, H, N, L].

        Returns:
            output [B, N, num_output_channels] and the probabilities (or None).
        """
        q = self._split_heads(self.q_proj(x_q), self.qk_head_channels)  # [B, H, N, cqk]
        k = self._split_heads(self.k_proj(x_kv), self.qk_head_channels)  # [B, H, L, cqk]
        v = self._split_heads(self.v_proj(x_kv), self.v_head_channels)  # [B, H, L, cv]

        row_valid = None  # [B, N, 1] bool: rows whose attention output survives
        attn_mask = None  # [B, 1, 1, L] bool
        if key_mask is not None:
            has_key = key_mask.any(dim=-1, keepdim=True)  # [B, 1]
            # A row with no valid key attends everywhere (avoids NaN) and is wiped to 0 below.
            attn_mask = (key_mask | ~has_key)[:, None, None, :]
            row_valid = has_key[:, :, None]  # [B, 1, 1]
        if query_mask is not None:
            q_valid = query_mask[:, :, None]  # [B, N, 1]
            row_valid = q_valid if row_valid is None else row_valid & q_valid

        dropout_p = self.dropout if self.training else 0.0
        if return_weights or self._runs_explicitly(q):
            weights = self._probabilities(q, k, attn_mask)  # [B, H, N, L]
            o = torch.matmul(F.dropout(weights, dropout_p, self.training), v)  # [B, H, N, cv]
            weights = weights if return_weights else None
        else:
            weights = None
            o = F.scaled_dot_product_attention(q, k, v, attn_mask=attn_mask, dropout_p=dropout_p)  # [B, H, N, cv]

        b, _, n, _ = o.shape
        o = o.transpose(1, 2).reshape(b, n, self.num_heads * self.v_head_channels)  # [B, N, Cv]
        if row_valid is not None:
            o = torch.where(row_valid, o, torch.zeros((), dtype=o.dtype, device=o.device))
        return self.o_proj(o), weights

    def _runs_explicitly(self, q: torch.Tensor) -> bool:
        if self.implementation != "auto":
            return self.implementation == "eager"
        return self.qk_head_channels != self.v_head_channels and q.device.type == "cpu"

    def _probabilities(self, q: torch.Tensor, k: torch.Tensor, attn_mask: Optional[torch.Tensor]) -> torch.Tensor:
        """Explicit softmax(q k^T / sqrt(c)) in float32 with select masking; [B, H, N, L]."""
        q = q * self.qk_head_channels**-0.5  # scaling q is cheaper than scaling the [N, L] logits
        logits = torch.matmul(q, k.transpose(-1, -2)).float()  # [B, H, N, L]
        if attn_mask is not None:
            logits = logits.masked_fill(~attn_mask, torch.finfo(logits.dtype).min)
        return logits.softmax(dim=-1).to(q.dtype)
