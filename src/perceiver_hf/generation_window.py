"""Which tokens a Perceiver AR generation step feeds the model, and how they split into prefix and latents.

The perceiver-io library's `generate` documents the schedule (its `num_latents` argument): the prompt's last
`num_latents` positions start as latents; each new token is one more latent until there are `max_latents`; then
the prefix grows; once the sequence is longer than `max_seq_len`, the oldest token leaves the window (positions
count from the window's first token again). At every step the model sees exactly what a plain forward pass of the
window with that split sees: with a cache or without, the logits are the same.

A key/value cache helps while the split stays put (the latents growing): the new token is appended. Once the split
moves (a latent becomes prefix: its keys change from the latent to the prefix normalisation, and every later
latent's attention changes with them) or the window slides (every position moves), the window is run again in
full on a fresh cache. The library's own cached generation instead keeps the stale keys (and its uncached one
never grows the prefix); see docs/causal-lm.md.
"""

from __future__ import annotations

from typing import Any, Optional

import torch


def check_prompt(config: Any, prompt: Optional[torch.Tensor], num_latents: int) -> int:
    """The prompt's prefix length for `num_latents`; a one-line `ValueError` for a prompt or `num_latents` the
    model cannot take."""
    if prompt is None or not isinstance(prompt, torch.Tensor) or prompt.dim() != 2:
        raise ValueError("Perceiver AR generates from input_ids [batch, length]; pass input_ids (or inputs).")
    length = prompt.shape[1]
    if not 0 < length <= config.max_seq_len:
        raise ValueError(
            f"The prompt has {length} tokens; this model takes 1 to max_seq_len={config.max_seq_len}: "
            f"keep its last {config.max_seq_len} tokens."
        )
    if isinstance(num_latents, bool) or not isinstance(num_latents, int) or not 0 < num_latents <= config.max_latents:
        raise ValueError(f"num_latents={num_latents!r} must be an integer from 1 to max_latents={config.max_latents}.")
    num_latents = min(length, num_latents)
    prefix_len = length - num_latents
    if prefix_len > config.max_prefix_len:
        raise ValueError(
            f"For a prompt of {length} tokens num_latents must be from {length - config.max_prefix_len} to "
            f"{config.max_latents} (the prefix holds at most max_seq_len - max_latents = {config.max_prefix_len})."
        )
    return prefix_len


class GenerationWindow:
    """The window and split of a sequence of `length` tokens whose prompt had `prompt_prefix_len` prefix tokens."""

    def __init__(self, config: Any, length: int, prompt_prefix_len: int) -> None:
        self.start = max(0, length - config.max_seq_len)  # first token of the window
        latents = min(config.max_latents, length - prompt_prefix_len)
        self.length = length - self.start
        self.prefix_len = self.length - latents

    def continues(self, cache: Any) -> bool:
        """Whether `cache` holds the window's first tokens with this split, so only the new tokens need to run."""
        cached = cache.get_seq_length(0)
        if cached == 0 or self.start > 0 or cached >= self.length:
            return False
        return cached - cache.get_seq_length(1) == self.prefix_len
