"""Named model presets for `perceiver-hf train --preset NAME`, one table per model family.

Every preset is a function ``(**overrides) -> config``; `vocab_size` and `max_seq_len` are passed in as overrides
by the training setup (from the tokenizer and the data arguments). `PRESETS` are Perceiver IO models (the masked-LM
and classification tasks), `CAUSAL_LM_PRESETS` Perceiver AR models (`--task causal-lm`); a name may be in both
(`tiny`): the task picks the table.
"""

from __future__ import annotations

from typing import Any, Callable, Mapping

from ..configuration_perceiver import PerceiverConfig
from ..configuration_perceiver_ar import PerceiverARConfig

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

TINY_CAUSAL_LM_CONFIG: dict[str, Any] = {
    "vocab_size": 262,
    "max_seq_len": 128,
    "max_latents": 32,
    "num_channels": 64,
    "num_heads": 4,
    "num_self_attention_layers": 2,
    "self_attention_widening_factor": 2,
    "cross_attention_widening_factor": 2,
    "cross_attention_dropout": 0.5,
}
"""A Perceiver AR of about 100,000 parameters for tests and smoke runs on a CPU: a quarter of each example is
latents, the library's prefix dropout (0.5) on the rest."""


def tiny(**overrides: Any) -> PerceiverConfig:
    """A tiny Perceiver IO (C=64, N=16, D=96, 2 self-attention layers, 128 positions) for tests and smoke runs."""
    return PerceiverConfig(**{**TINY_CONFIG, **overrides})


def tiny_causal_lm(**overrides: Any) -> PerceiverARConfig:
    """A tiny Perceiver AR (64 channels, 32 latents, 2 self-attention layers, 128 positions)."""
    return PerceiverARConfig(**{**TINY_CAUSAL_LM_CONFIG, **overrides})


PRESETS: dict[str, Callable[..., PerceiverConfig]] = {
    "language_perceiver": PerceiverConfig.language_perceiver,
    "perceiver_io_base": PerceiverConfig.perceiver_io_base,
    "tiny": tiny,
}

CAUSAL_LM_PRESETS: dict[str, Callable[..., PerceiverARConfig]] = {
    "perceiver_ar": PerceiverARConfig,  # the perceiver-io library's CausalLanguageModelConfig defaults
    "tiny": tiny_causal_lm,
}


def build_preset(name: str, presets: Mapping[str, Callable[..., Any]] = PRESETS, **overrides: Any) -> Any:
    """Build the config of preset `name` of the table `presets` with `overrides` applied (ValueError for names
    not in the table)."""
    if name not in presets:
        raise ValueError(f"Unknown preset {name!r} for this task; choose one of {', '.join(presets)}.")
    return presets[name](**overrides)


__all__ = ["CAUSAL_LM_PRESETS", "PRESETS", "TINY_CAUSAL_LM_CONFIG", "TINY_CONFIG", "build_preset", "tiny", "tiny_causal_lm"]
