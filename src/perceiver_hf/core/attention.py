"""Multi-head attention with DeepMind's Perceiver semantics, and the attention functions it can run.

Semantics (DeepMind's `Attention` / `attend` in perceiver.py):

- separate q, k, v and output projections, all with bias; q/k and v may have different widths;
- logits scaled by 1/sqrt(qk channels per head), softmax over keys;
- masking is a select (a masked key gets probability exactly 0), and a query row whose keys are all masked,
  or a masked query, gets attention output 0 *before* the output projection (so it becomes the output bias).

The attention itself (softmax(q k^T * scaling) v) is a function with transformers' attention-interface
signature, `fn(module, query, key, value, attention_mask, scaling, dropout=0.0, **kwargs) -> (output, weights)`
with query/key/value [B, H, N or L, c], a bool `attention_mask` [B, 1, 1, L] (True = may attend) or None, and
output [B, N, H, c]. `MultiHeadAttention.forward(..., attention=fn)` runs `fn`; the functions here are plain
PyTorch:

- `eager_attention_forward`: the explicit computation (float32 softmax); returns the probabilities.
- `sdpa_attention_forward`: `torch.nn.functional.scaled_dot_product_attention`.
- `default_attention_forward` (the default, and the models' "sdpa"): SDPA, except on CPU when q/k and v heads differ in width
  (DeepMind's models: 32 vs 160 channels). torch has no fused CPU kernel for that case and SDPA runs its math
  fallback, which adds a "safe softmax" pass (isneginf/all/where over the scores); the explicit computation is
  the same math without it (about 10% faster attention). float64 inputs always run SDPA (the explicit
  computation's float32 softmax would lose their precision, e.g. for gradcheck).

The Hugging Face wrappers pick the function by `config._attn_implementation` ("sdpa": `default_attention_forward`,
"eager": `eager_attention_forward`) and pass it down through `forward`; the core never imports transformers.
"""

from __future__ import annotations

from typing import Any, Callable, Optional

import torch
import torch.nn.functional as F
from torch import nn

from .specs import resolve_widths

AttentionFunction = Callable[..., tuple[torch.Tensor, Optional[torch.Tensor]]]


def _check_divisible(channels: int, num_heads: int, what: str) -> None:
    if channels % num_heads != 0:
        raise ValueError(
            f"{what} ({channels}) must be divisible by the number of heads ({num_heads}); "
            f"choose a channel count that is a multiple of {num_heads} or change the number of heads."
        )


def eager_attention_forward(
    module: nn.Module,
    query: torch.Tensor,
    key: torch.Tensor,
    value: torch.Tensor,
    attention_mask: Optional[torch.Tensor],
    scaling: float,
    dropout: float = 0.0,
    **kwargs: Any,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Explicit softmax(q k^T * scaling) v with select masking, softmax in float32 -> ([B, N, H, cv], [B, H, N, L])."""
    query = query * scaling  # scaling q is cheaper than scaling the [N, L] logits
    logits = torch.matmul(query, key.transpose(-1, -2)).float()  # [B, H, N, L]
    if attention_mask is not None:
        logits = logits.masked_fill(~attention_mask, torch.finfo(logits.dtype).min)
    weights = logits.softmax(dim=-1).to(query.dtype)
    attended = F.dropout(weights, dropout, training=True) if dropout > 0 else weights
    output = torch.matmul(attended, value)  # [B, H, N, cv]
    return output.transpose(1, 2), weights


def sdpa_attention_forward(
    module: nn.Module,
    query: torch.Tensor,
    key: torch.Tensor,
    value: torch.Tensor,
    attention_mask: Optional[torch.Tensor],
    scaling: float,
    dropout: float = 0.0,
    **kwargs: Any,
) -> tuple[torch.Tensor, None]:
    """`scaled_dot_product_attention` -> ([B, N, H, cv], None)."""
    output = F.scaled_dot_product_attention(query, key, value, attn_mask=attention_mask, dropout_p=dropout, scale=scaling)
    return output.transpose(1, 2), None


def default_attention_forward(
    module: nn.Module,
    query: torch.Tensor,
    key: torch.Tensor,
    value: torch.Tensor,
    attention_mask: Optional[torch.Tensor],
    scaling: float,
    dropout: float = 0.0,
    **kwargs: Any,
) -> tuple[torch.Tensor, None]:
    """SDPA, or the explicit computation where SDPA only has its slower math fallback (CPU, q/k head width !=
    value head width; not float64, where the explicit float32 softmax would be coarser); returns no probabilities."""
    if query.device.type == "cpu" and query.shape[-1] != value.shape[-1] and query.dtype != torch.float64:
        return eager_attention_forward(module, query, key, value, attention_mask, scaling, dropout)[0], None
    return sdpa_attention_forward(module, query, key, value, attention_mask, scaling, dropout)


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
        qkv_bias: the q, k and v projections have a bias (Perceiver IO: yes; Perceiver AR: no).
        out_bias: the output projection has a bias (Perceiver AR's self-attention: no).
    """

    is_causal = False  # read by transformers' attention functions

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
        qkv_bias: bool = True,
        out_bias: bool = True,
    ) -> None:
        super().__init__()
        num_qk_channels, num_v_channels = resolve_widths(num_qk_channels, num_v_channels, num_q_input_channels)
        num_output_channels = num_output_channels or num_q_input_channels
        _check_divisible(num_qk_channels, num_heads, "qk channels")
        _check_divisible(num_v_channels, num_heads, "v channels")

        self.num_heads = num_heads
        self.qk_head_channels = num_qk_channels // num_heads
        self.v_head_channels = num_v_channels // num_heads
        self.scaling = self.qk_head_channels**-0.5
        self.dropout = dropout

        self.q_proj = nn.Linear(num_q_input_channels, num_qk_channels, bias=qkv_bias)
        self.k_proj = nn.Linear(num_kv_input_channels, num_qk_channels, bias=qkv_bias)
        self.v_proj = nn.Linear(num_kv_input_channels, num_v_channels, bias=qkv_bias)
        self.o_proj = nn.Linear(num_v_channels, num_output_channels, bias=out_bias)

    def _split_heads(self, x: torch.Tensor, head_channels: int) -> torch.Tensor:
        b, n, _ = x.shape
        return x.view(b, n, self.num_heads, head_channels).transpose(1, 2)  # [B, H, N, c]

    def project_query(self, x_q: torch.Tensor) -> torch.Tensor:
        """x_q [B, N, Cq] -> queries [B, H, N, cqk] (unscaled: the attention function applies `scaling`)."""
        return self._split_heads(self.q_proj(x_q), self.qk_head_channels)

    def project_key_value(self, x_kv: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """x_kv [B, L, Ckv] -> keys [B, H, L, cqk], values [B, H, L, cv]."""
        return (
            self._split_heads(self.k_proj(x_kv), self.qk_head_channels),
            self._split_heads(self.v_proj(x_kv), self.v_head_channels),
        )

    def attend(
        self,
        q: torch.Tensor,
        k: torch.Tensor,
        v: torch.Tensor,
        attn_mask: Optional[torch.Tensor] = None,
        attention: Optional[AttentionFunction] = None,
        return_weights: bool = False,
    ) -> tuple[torch.Tensor, Optional[torch.Tensor]]:
        """Attention of projected heads (q [B, H, N, cqk], k [B, H, L, cqk], v [B, H, L, cv]) under a bool
        `attn_mask` broadcastable to [B, H, N, L] (True = may attend; every row needs one True) ->
        (heads merged [B, N, H * cv], probabilities [B, H, N, L] or None). No output projection. The probabilities
        come back with `return_weights`, or whenever `attention` gives them (the eager function), else None."""
        if return_weights:
            attention = eager_attention_forward
        elif attention is None:
            attention = default_attention_forward
        dropout = self.dropout if self.training else 0.0
        o, weights = attention(self, q, k, v, attn_mask, scaling=self.scaling, dropout=dropout)  # [B, N, H, cv]
        b, n = o.shape[:2]
        return o.reshape(b, n, self.num_heads * self.v_head_channels), weights

    def forward(
        self,
        x_q: torch.Tensor,
        x_kv: torch.Tensor,
        *,
        key_mask: Optional[torch.Tensor] = None,
        query_mask: Optional[torch.Tensor] = None,
        return_weights: bool = False,
        attention: Optional[AttentionFunction] = None,
    ) -> tuple[torch.Tensor, Optional[torch.Tensor]]:
        """Attend from `x_q` [B, N, Cq] to `x_kv` [B, L, Ckv].

        Args:
            key_mask: bool [B, L], True where a key may be attended to.
            query_mask: bool [B, N], True for valid queries; masked queries get attention output 0.
            return_weights: also return the attention probabilities [B, H, N, L] (runs `eager_attention_forward`).
            attention: the attention function (see the module docstring); default `default_attention_forward`.

        Returns:
            output [B, N, num_output_channels] and the probabilities (or None).
        """
        q = self.project_query(x_q)  # [B, H, N, cqk]
        k, v = self.project_key_value(x_kv)  # [B, H, L, cqk], [B, H, L, cv]

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

        o, weights = self.attend(q, k, v, attn_mask, attention, return_weights)  # [B, N, Cv]
        if row_valid is not None:
            o = torch.where(row_valid, o, torch.zeros((), dtype=o.dtype, device=o.device))
        return self.o_proj(o), weights
