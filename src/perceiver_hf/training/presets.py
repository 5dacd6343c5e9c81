"""Named model presets for `perceiver-hf train --preset NAME`.

Every preset is a function ``(**overrides) -> PerceiverConfig``; `vocab_size` and `max_seq_len` are passed in
as overrides by the training setup (from the tokenizer and the data arguments).
"""

from __future__ import annotations

from typing import Any, Callable

from ..configuration_perceiver import PerceiverConfig

TINY_CONFIG: dict[str, Any] = {
    "vocab_size": 262,
    "max_seq_len": 128,
    "num_input_channels": 64,
    "num_latents": 16,
    "num_latent_channels": 96,
    "num_cross_attention_heads": 4,
    "num_cross_attention_qk_channels": 32,
    "num_cross_attention_v_channels": 96,
    "num_self_attention_heads": 4,
    "num_self_attention_qk_channels": 32,
    "num_self_attention_v_channels": 96,
    "num_self_attention_layers_per_block": 2,
    "num_self_attention_blocks": 1,
    "decoder_num_cross_attention_heads": 4,
    "decoder_num_cross_attention_qk_channels": 32,
    "decoder_num_cross_attention_v_channels": 64,
}
"""A few-hundred-thousand-parameter model for tests and smoke runs on a CPU: the shape of the Haiku test
fixture (tests/fixtures/haiku-tiny), with q/k narrower than v so that the mixed-width attention path runs."""


def tiny(**overrides: Any) -> PerceiverConfig:
    """A tiny Perceiver IO (C=64, N=16, D=96, 2 self-attention layers, 128 positions) for tests and smoke runs."""
    return PerceiverConfig(**{**TINY_CONFIG, **overrides})


PRESETS: dict[str, Callable[..., PerceiverConfig]] = {
    "language_perceiver": PerceiverConfig.language_perceiver,
    "perceiver_io_base": PerceiverConfig.perceiver_io_base,
    "tiny": tiny,
}


def build_preset(name: str, **overrides: Any) -> PerceiverConfig:
    """Build the config of preset `name` with `overrides` applied (ValueError for unknown names)."""
    if name not in PRESETS:
        raise ValueError(f"Unknown preset {name!r}; choose one of {', '.join(PRESETS)}.")
    return PRESETS[name](**overrides)


__all__ = ["PRESETS", "TINY_CONFIG", "build_preset", "tiny"]
