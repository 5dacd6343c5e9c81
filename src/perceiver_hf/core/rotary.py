"""Rotary position embedding (Su et al., 2021) as the perceiver-io library's Perceiver AR applies it.

- Frequencies: inv_freq[i] = 10000^(-2i / r) for i < r / 2, r = the rotated channels per head; the angle of
  position p is p * inv_freq, each angle used for two adjacent channels ("interleaved" pairs, GPT-J style, not
  Llama's two halves).
- Only the first r channels of each head are rotated, the rest pass unchanged (r = head width, or half of it when
  the model also adds absolute position embeddings).
- Pair (x1, x2) becomes (x1 cos - x2 sin, x2 cos + x1 sin), applied to the queries (after their 1/sqrt(c) scaling,
  which commutes with it) and the keys.
"""

from __future__ import annotations

import torch
from torch import nn


class RotaryEmbedding(nn.Module):
    """Angles for `rotated_channels` channels per head; `forward(positions [B, N])` -> (cos, sin) [B, 1, N, r]."""

    def __init__(self, rotated_channels: int, base: float = 10000.0) -> None:
        super().__init__()
        if rotated_channels % 2 != 0 or rotated_channels <= 0:
            raise ValueError(
                f"Rotary embeddings rotate channel pairs: rotated_channels must be a positive even number, "
                f"got {rotated_channels}; choose a head width (num_channels / num_heads) divisible by 4."
            )
        self.rotated_channels = rotated_channels
        self.base = base
        self.register_buffer("inv_freq", self.frequencies(), persistent=False)  # [r / 2]

    def frequencies(self) -> torch.Tensor:
        """inv_freq [r / 2] = base^(-2i / r) (recomputed when transformers re-initialises non-persistent buffers)."""
        exponents = torch.arange(0, self.rotated_channels, 2, dtype=torch.float32) / self.rotated_channels
        return 1.0 / (self.base**exponents)

    def forward(self, positions: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        angles = positions.to(self.inv_freq.dtype)[..., None] * self.inv_freq  # [B, N, r / 2]
        angles = angles.repeat_interleave(2, dim=-1)[:, None]  # [B, 1, N, r]
        return angles.cos(), angles.sin()


def _rotate_pairs(x: torch.Tensor) -> torch.Tensor:
    """[..., (x1, x2), (x3, x4), ...] -> [..., (-x2, x1), (-x4, x3), ...]."""
    pairs = x.unflatten(-1, (-1, 2))
    return torch.stack((-pairs[..., 1], pairs[..., 0]), dim=-1).flatten(-2)


def apply_rotary(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """Rotate the first r channels of heads x [B, H, N, c] by angles (cos, sin) [B, 1, N, r]; the rest pass."""
    r = cos.shape[-1]
    rotated = x[..., :r] * cos.to(x.dtype) + _rotate_pairs(x[..., :r]) * sin.to(x.dtype)
    return torch.cat((rotated, x[..., r:]), dim=-1) if r < x.shape[-1] else rotated
