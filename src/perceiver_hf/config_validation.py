"""Checks of `PerceiverConfig` field values, and the size a config would allocate, before any model is built.

A config.json is input from a file: every field is checked for its type and range when the config is made
(`check_config_fields`), and a model refuses to allocate an absurd number of parameters for this machine
(`check_model_size`) unless the user opts in with `PERCEIVER_HF_ALLOW_LARGE_MODELS=1`.
"""

from __future__ import annotations

import os
from typing import Any, Iterable

ALLOW_LARGE_ENV = "PERCEIVER_HF_ALLOW_LARGE_MODELS"
"""Set to 1 to build a model whose float32 parameters exceed half of this machine's memory."""

POSITIVE_INTS = (
    "vocab_size", "max_seq_len", "num_input_channels", "num_latents", "num_latent_channels",
    "num_cross_attention_heads", "cross_attention_widening_factor", "num_self_attention_heads",
    "num_self_attention_layers_per_block", "num_self_attention_blocks", "self_attention_widening_factor",
    "decoder_num_cross_attention_heads", "decoder_cross_attention_widening_factor",
    "classifier_num_queries", "classifier_num_cross_attention_heads", "classifier_cross_attention_widening_factor",
    "num_cross_attention_layers",
)  # fmt: skip
OPTIONAL_WIDTHS = (
    "num_cross_attention_qk_channels", "num_cross_attention_v_channels", "num_self_attention_qk_channels",
    "num_self_attention_v_channels", "decoder_num_cross_attention_qk_channels",
    "decoder_num_cross_attention_v_channels", "classifier_num_query_channels",
    "classifier_num_cross_attention_qk_channels", "classifier_num_cross_attention_v_channels",
)  # fmt: skip
BOOLS = (
    "scale_input_embeddings", "cross_attention_residual", "decoder_cross_attention_residual", "mask_padded_queries",
    "tie_word_embeddings", "classifier_cross_attention_residual", "first_cross_attention_layer_shared",
    "first_self_attention_block_shared",
)  # fmt: skip


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _fail(name: str, value: Any, expected: str) -> ValueError:
    return ValueError(f"PerceiverConfig.{name} must be {expected}, got {value!r}; fix it in config.json or the call.")


def check_config_fields(config: Any, activations: Iterable[str]) -> None:
    """Raise `ValueError` naming the first field of ``config`` whose type or range is wrong."""
    for name in POSITIVE_INTS:
        value = getattr(config, name)
        if not _is_int(value) or value < 1:
            raise _fail(name, value, "a positive integer")
    for name in OPTIONAL_WIDTHS:
        value = getattr(config, name)
        if value is not None and (not _is_int(value) or value < 1):
            raise _fail(name, value, "a positive integer or None (None: the default width)")
    for name in BOOLS:
        value = getattr(config, name)
        if not isinstance(value, bool):
            raise _fail(name, value, "true or false")
    if not _is_number(config.dropout) or not 0.0 <= config.dropout < 1.0:
        raise _fail("dropout", config.dropout, "a number in [0, 1)")
    if not _is_number(config.layer_norm_eps) or not config.layer_norm_eps > 0:
        raise _fail("layer_norm_eps", config.layer_norm_eps, "a positive number (DeepMind: 1e-5)")
    if not _is_number(config.initializer_range) or not config.initializer_range > 0:
        raise _fail("initializer_range", config.initializer_range, "a positive number (default 0.02)")
    if config.num_cross_attention_layers > config.num_self_attention_blocks:
        raise _fail("num_cross_attention_layers", config.num_cross_attention_layers,
                    f"at most num_self_attention_blocks ({config.num_self_attention_blocks}): each cross-attention "
                    "precedes a block application")
    names = sorted(activations)
    if not isinstance(config.hidden_act, str) or config.hidden_act not in names:
        raise _fail("hidden_act", config.hidden_act, f"one of {names}")


def _attention(q_in: int, kv_in: int, qk: int, v: int, out: int, widening: int) -> int:
    """Parameters of one attention layer with its MLP: q/k/v/o projections, MLP, 2-3 LayerNorms."""
    projections = (q_in + 1) * qk + (kv_in + 1) * qk + (kv_in + 1) * v + (v + 1) * out
    mlp = (out + 1) * out * widening + (out * widening + 1) * out
    norms = 2 * (q_in + kv_in + out)
    return projections + mlp + norms


def estimated_num_parameters(config: Any) -> int:
    """The parameter count ``config`` implies (PerceiverForMaskedLM; exact up to a few LayerNorm/bias terms)."""
    c, d, length = config.num_input_channels, config.num_latent_channels, config.max_seq_len
    cross_qk = config.num_cross_attention_qk_channels or c
    self_qk = config.num_self_attention_qk_channels or d
    decoder_qk = config.decoder_num_cross_attention_qk_channels or c
    encoder = _attention(
        d, c, cross_qk, config.num_cross_attention_v_channels or cross_qk, d, config.cross_attention_widening_factor
    )
    layer = _attention(
        d, d, self_qk, config.num_self_attention_v_channels or self_qk, d, config.self_attention_widening_factor
    )
    decoder = _attention(
        c, d, decoder_qk, config.decoder_num_cross_attention_v_channels or decoder_qk, c,
        config.decoder_cross_attention_widening_factor,
    )  # fmt: skip
    embeddings = config.vocab_size * c + length * c + config.num_latents * d + length * c + config.vocab_size
    unshared_cross = config.num_cross_attention_layers > 1 and not config.first_cross_attention_layer_shared
    unshared_blocks = config.num_self_attention_blocks > 1 and not config.first_self_attention_block_shared
    blocks = config.num_self_attention_layers_per_block * layer * (2 if unshared_blocks else 1)
    return embeddings + encoder * (2 if unshared_cross else 1) + blocks + decoder


def _machine_memory_bytes() -> int:
    try:
        return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return 0


def check_model_size(config: Any) -> None:
    """Refuse (ValueError, with the figures) a model whose float32 parameters exceed half of this machine's memory.

    Set the environment variable `PERCEIVER_HF_ALLOW_LARGE_MODELS=1` to build it anyway.
    """
    if os.environ.get(ALLOW_LARGE_ENV) == "1":
        return
    num_parameters = estimated_num_parameters(config)
    memory = _machine_memory_bytes()
    if memory and num_parameters * 4 > memory // 2:
        raise ValueError(
            f"This config implies about {num_parameters:,} parameters ({num_parameters * 4 / 2**30:,.1f} GiB in "
            f"float32), more than half of this machine's {memory / 2**30:,.1f} GiB of memory; check num_latents, "
            f"the channel widths and max_seq_len in the config, or set {ALLOW_LARGE_ENV}=1 to build it anyway."
        )


__all__ = ["ALLOW_LARGE_ENV", "check_config_fields", "check_model_size", "estimated_num_parameters"]
