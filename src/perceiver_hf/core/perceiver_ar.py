"""Perceiver AR (Hawthorne et al., 2022) as the perceiver-io library builds it, from the Perceiver IO layers.

A sequence x [B, n] of token ids is embedded (token embedding, plus learned absolute position embeddings when
`abs_pos_emb`). Its last n - p positions are the latents, the first p the prefix. The latents cross-attend to
[prefix, latents] (keys of prefix positions go through `kv_norm`, those of latent positions through `q_norm`, as the
library concatenates them), causally: latent i sees every position up to its own. Then the latents run
`num_self_attention_layers` causal self-attention layers. Rotary embeddings turn the first `rotated_channels` of
every head of the cross-attention's queries and keys and of the first `num_self_attention_rotary_layers`
self-attention layers' (see `rotary`). Positions count real tokens: left padding shifts them (a padded position
gets 0). The output is the latents' hidden states [B, n - p, C] (after `output_norm`, if any).

Differences from the library, all outside what its models compute on their own inputs:

- padding is also masked in the self-attention (the library masks it only in the cross-attention; the two agree
  whenever the padding lies in the prefix, which is where generation puts it);
- a key/value `cache` (any object with transformers' `Cache.update(keys, values, layer_idx)` and
  `get_seq_length(layer_idx)`) holds layer 0 = the cross-attention's keys/values of every position seen, layers
  1.. = each self-attention layer's over the latents; keys are stored rotated.

Without transformers: the layers are transformers' `GradientCheckpointingLayer`s (see `layers`), nothing else.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Optional

import torch
from torch import nn

from .attention import AttentionFunction, MultiHeadAttention
from .layers import CrossAttentionLayer, SelfAttentionLayer
from .rotary import RotaryEmbedding, apply_rotary
from .specs import AttentionSpec

Rotation = tuple[torch.Tensor, torch.Tensor]  # (cos, sin), each [B, 1, N, r]


@dataclass(frozen=True)
class PerceiverARSpec:
    """What a Perceiver AR model is made of (the library's `CausalSequenceModelConfig` options)."""

    vocab_size: int
    max_seq_len: int
    max_latents: int
    num_channels: int
    num_heads: int
    num_self_attention_layers: int
    num_self_attention_rotary_layers: int = 1
    self_attention_widening_factor: int = 4
    cross_attention_widening_factor: int = 4
    cross_attention_dropout: float = 0.5
    post_attention_dropout: float = 0.0
    residual_dropout: float = 0.0
    output_norm: bool = False
    abs_pos_emb: bool = True
    activation: str = "gelu"  # the library's nn.GELU(): exact erf GELU
    layer_norm_eps: float = 1e-5

    @property
    def rotated_channels(self) -> int:
        head_channels = self.num_channels // self.num_heads
        return head_channels // 2 if self.abs_pos_emb else head_channels

    def attention(self, widening_factor: int, out_bias: bool) -> AttentionSpec:
        """The layer spec: no q/k/v or MLP biases; an output bias in the cross-attention only."""
        return AttentionSpec(
            num_heads=self.num_heads,
            widening_factor=widening_factor,
            dropout=self.post_attention_dropout,
            residual_dropout=self.residual_dropout,
            activation=self.activation,
            layer_norm_eps=self.layer_norm_eps,
            qkv_bias=False,
            out_bias=out_bias,
            mlp_bias=False,
        )

    def rotary_layer(self, index: int) -> bool:
        return self.num_self_attention_rotary_layers == -1 or index < self.num_self_attention_rotary_layers


def causal_mask(
    num_queries: int, key_valid: Optional[torch.Tensor], num_keys: int, device: torch.device
) -> Optional[torch.Tensor]:
    """Bool [B or 1, 1, N, L]: query i (the i-th of the last N positions) may attend to keys 0..L-N+i that are
    valid (`key_valid` [B, L], True = a real token). A row left without keys (a padded query with only padding
    before it) gets all its causal keys back, so that attention stays finite; its output is never used. None
    when nothing is masked (one query, the last position, and no padding: the step of cached generation)."""
    if num_queries == 1 and key_valid is None:
        return None
    causal = torch.ones(num_queries, num_keys, dtype=torch.bool, device=device).tril(num_keys - num_queries)
    mask = causal[None, None]  # [1, 1, N, L]
    if key_valid is not None:
        mask = mask & key_valid[:, None, None, :]
        mask = mask | (causal[None, None] & ~mask.any(dim=-1, keepdim=True))
    return mask


def causal_attention(
    attention: MultiHeadAttention,
    x_q: torch.Tensor,
    x_kv: torch.Tensor,
    q_rotation: Optional[Rotation],
    k_rotation: Optional[Rotation],
    attn_mask: torch.Tensor,
    cache: Optional[Any],
    layer_idx: int,
    attention_fn: Optional[AttentionFunction],
) -> tuple[torch.Tensor, Optional[torch.Tensor]]:
    """Project x_q [B, N, C] and x_kv [B, X, C], rotate, append the keys/values to `cache` layer `layer_idx`,
    attend under attn_mask [B, 1, N, L] -> (output projection [B, N, C], probabilities [B, H, N, L] when
    `attention_fn` returns them (the eager function), else None)."""
    q = attention.project_query(x_q)
    k, v = attention.project_key_value(x_kv)
    if q_rotation is not None:
        q = apply_rotary(q, *q_rotation)
    if k_rotation is not None:
        k = apply_rotary(k, *k_rotation)
    if cache is not None:
        k, v = cache.update(k, v, layer_idx)
    h, weights = attention.attend(q, k, v, attn_mask, attention_fn)
    return attention.o_proj(h), weights


class PrefixCrossAttentionLayer(CrossAttentionLayer):
    """Latents [B, N, C] attend causally to [prefix, latents]; then the MLP. Weights as `CrossAttentionLayer`'s."""

    def forward(
        self,
        x_latent: torch.Tensor,
        x_prefix: torch.Tensor,
        q_rotation: Rotation,
        k_rotation: Rotation,
        attn_mask: torch.Tensor,
        cache: Optional[Any] = None,
        layer_idx: int = 0,
        attention: Optional[AttentionFunction] = None,
    ) -> tuple[torch.Tensor, Optional[torch.Tensor]]:
        """x_latent [B, N, C], x_prefix [B, P, C] (P may be 0), rotations for the N queries and the P + N new
        keys, attn_mask [B, 1, N, L] over all keys (L = cached + P + N) -> ([B, N, C], probabilities [B, H, N, L]
        or None, as `causal_attention`)."""
        q_in = self.q_norm(x_latent)
        kv_in = torch.cat([self.kv_norm(x_prefix), q_in], dim=1)  # [B, P + N, C]
        h, weights = causal_attention(
            self.attention, q_in, kv_in, q_rotation, k_rotation, attn_mask, cache, layer_idx, attention
        )
        return self._mlp_residual(x_latent + self.dropout(h)), weights


class CausalSelfAttentionLayer(SelfAttentionLayer):
    """Causal self-attention over the latents, optionally rotary; then the MLP. Weights as `SelfAttentionLayer`'s."""

    def forward(
        self,
        x: torch.Tensor,
        rotation: Optional[Rotation],
        attn_mask: torch.Tensor,
        cache: Optional[Any] = None,
        layer_idx: int = 1,
        attention: Optional[AttentionFunction] = None,
    ) -> tuple[torch.Tensor, Optional[torch.Tensor]]:
        """x [B, N, C], rotation of the N positions (or None), attn_mask [B, 1, N, L] (L = cached + N) ->
        ([B, N, C], probabilities [B, H, N, L] or None, as `causal_attention`)."""
        h = self.norm(x)
        h, weights = causal_attention(self.attention, h, h, rotation, rotation, attn_mask, cache, layer_idx, attention)
        return self._mlp_residual(x + self.dropout(h)), weights


def keep_prefix_positions(batch_size: int, prefix_len: int, rate: float, device: torch.device) -> torch.Tensor:
    """The library's prefix dropout: indices [B, K] (ascending) of the K = prefix_len - int(prefix_len * rate)
    prefix positions each row keeps, chosen uniformly at random."""
    keep = prefix_len - int(prefix_len * rate)
    indices = torch.rand(batch_size, prefix_len, device=device).topk(keep, dim=-1).indices
    return indices.sort(dim=-1).values


class PerceiverAR(nn.Module):
    """Token embedding, prefix cross-attention, causal latent self-attention, optional output norm."""

    def __init__(self, spec: PerceiverARSpec) -> None:
        super().__init__()
        self.spec = spec
        self.token_embedding = nn.Embedding(spec.vocab_size, spec.num_channels)
        self.position_embedding = nn.Embedding(spec.max_seq_len, spec.num_channels) if spec.abs_pos_emb else None
        self.rotary = RotaryEmbedding(spec.rotated_channels)
        channels = spec.num_channels
        self.cross_attention = PrefixCrossAttentionLayer(
            spec.attention(spec.cross_attention_widening_factor, out_bias=True), channels, channels, channels
        )
        self.self_attention = nn.ModuleList(
            CausalSelfAttentionLayer(spec.attention(spec.self_attention_widening_factor, out_bias=False), channels)
            for _ in range(spec.num_self_attention_layers)
        )
        self.output_norm = nn.LayerNorm(channels, eps=spec.layer_norm_eps) if spec.output_norm else None

    def embed(
        self, input_ids: Optional[torch.Tensor], positions: torch.Tensor, inputs_embeds: Optional[torch.Tensor] = None
    ) -> torch.Tensor:
        """input_ids [B, X] (or their token embeddings `inputs_embeds` [B, X, C]), positions [B, X] -> [B, X, C]."""
        x = self.token_embedding(input_ids) if inputs_embeds is None else inputs_embeds
        if self.position_embedding is not None:
            x = x + self.position_embedding(positions)
        return x

    def forward(
        self,
        input_ids: Optional[torch.Tensor],
        prefix_len: int,
        positions: torch.Tensor,
        key_valid: Optional[torch.Tensor] = None,
        cache: Optional[Any] = None,
        attention: Optional[AttentionFunction] = None,
        inputs_embeds: Optional[torch.Tensor] = None,
    ) -> torch.Tensor:
        """Hidden states of the latent positions of `input_ids`.

        Args:
            input_ids: [B, X]: the whole sequence (no cache, or an empty one), or the X tokens that follow the
                cached ones (all of them latents).
            prefix_len: p, prefix positions at the start of `input_ids` (0 when continuing a cache).
            positions: [B, n] position of every token, cached and new (n = cached + X).
            key_valid: bool [B, n], True for real tokens (None: all are).
            cache: a transformers `Cache` (or anything with its `update` / `get_seq_length`), updated in place.
            attention: the attention function (see `attention`).
            inputs_embeds: [B, X, C], token embeddings instead of `input_ids` (None then); the position
                embeddings are added to them as to looked-up ones.

        Returns:
            [B, X - p, C].
        """
        b, x_len = (input_ids if inputs_embeds is None else inputs_embeds).shape[:2]
        cached = cache.get_seq_length(0) if cache is not None else 0
        n = cached + x_len
        latents = x_len - prefix_len
        x = self.embed(input_ids, positions[:, cached:], inputs_embeds)  # [B, X, C]
        x_prefix, x_latent = x[:, :prefix_len], x[:, prefix_len:]
        cos, sin = self.rotary(positions[:, cached:])  # [B, 1, X, r]: the new positions' angles
        new_keys = torch.arange(x_len, device=x.device).expand(b, -1)  # [B, X] each new key, as an index of x
        if key_valid is not None and bool(key_valid.all()):
            key_valid = None  # no padding: masks without it (and none at all for one query)
        key_valid_all = key_valid

        if self.training and prefix_len > 0 and self.spec.cross_attention_dropout > 0:
            if cache is not None:
                raise ValueError("Prefix dropout (cross_attention_dropout) does not run with a cache; train without one.")
            kept = keep_prefix_positions(b, prefix_len, self.spec.cross_attention_dropout, x.device)  # [B, K]
            x_prefix = x_prefix.gather(1, kept[..., None].expand(-1, -1, x.shape[-1]))
            latent_keys = torch.arange(prefix_len, x_len, device=x.device).expand(b, -1)
            new_keys = torch.cat([kept, latent_keys], dim=1)  # [B, K + N]
            if key_valid is not None:
                key_valid = key_valid.gather(1, new_keys)  # (no cache here: x is the whole sequence)

        gather = lambda t, idx: t.gather(2, idx[:, None, :, None].expand(-1, 1, -1, t.shape[-1]))  # noqa: E731
        k_rotation = (gather(cos, new_keys), gather(sin, new_keys))
        q_rotation = (cos[:, :, x_len - latents :], sin[:, :, x_len - latents :])
        num_keys = cached + new_keys.shape[1]
        mask = causal_mask(latents, key_valid, num_keys, x.device)
        h, _ = self.cross_attention(x_latent, x_prefix, q_rotation, k_rotation, mask, cache, 0, attention)

        sa_cached = cache.get_seq_length(1) if cache is not None and len(self.self_attention) else 0
        sa_valid = None if key_valid_all is None else key_valid_all[:, n - latents - sa_cached :]
        sa_mask = causal_mask(latents, sa_valid, sa_cached + latents, x.device)
        for index, layer in enumerate(self.self_attention):
            rotation = q_rotation if self.spec.rotary_layer(index) else None
            h, _ = layer(h, rotation, sa_mask, cache, index + 1, attention)
        return self.output_norm(h) if self.output_norm is not None else h
