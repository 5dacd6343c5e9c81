"""The `PerceiverConfig` of a Haiku checkpoint: dimensions from its weights, the rest from DeepMind's settings.

Head counts and how often the self-attention block is applied are not visible in the weights; they come from
`overrides` (`--config-overrides`), defaulting to DeepMind's published configuration (`DEEPMIND_DEFAULTS`).
"""

from __future__ import annotations

from typing import Any, Mapping, Optional

from ..configuration_perceiver import PerceiverConfig
from .config_inference import infer_config
from .haiku_mapping import HAIKU_LAYOUT
from .mapping import Shape

DEEPMIND_DEFAULTS: dict[str, Any] = dict(
    num_cross_attention_heads=8,
    num_self_attention_heads=8,
    decoder_num_cross_attention_heads=8,
    num_self_attention_blocks=1,
    cross_attention_residual=True,
    decoder_cross_attention_residual=False,
    hidden_act="gelu_pytorch_tanh",  # jax.nn.gelu's default tanh approximation
    layer_norm_eps=1e-5,  # hk.LayerNorm's default
    tie_word_embeddings=True,
)
"""DeepMind's language_perceiver_io_bytes settings that the weights do not show (masked_language_modelling notebook)."""


UNSEEN_IN_WEIGHTS = (
    "num_cross_attention_heads",
    "num_self_attention_heads",
    "decoder_num_cross_attention_heads",
    "num_self_attention_blocks",
)
"""The `DEEPMIND_DEFAULTS` that change the model's output yet cannot be checked against the weights."""


def assumed_settings(overrides: Optional[Mapping[str, Any]] = None) -> dict[str, Any]:
    """The settings of `UNSEEN_IN_WEIGHTS` that `overrides` leaves at DeepMind's values (what is assumed)."""
    return {key: DEEPMIND_DEFAULTS[key] for key in UNSEEN_IN_WEIGHTS if key not in (overrides or {})}


def infer_haiku_config(shapes: Mapping[str, Shape], overrides: Optional[Mapping[str, Any]] = None) -> PerceiverConfig:
    """The `PerceiverConfig` of a Haiku checkpoint whose arrays have `shapes` ("module/param" -> shape).

    `overrides` (PerceiverConfig fields) are applied last, over `DEEPMIND_DEFAULTS` and the inferred dimensions.
    """
    return infer_config(HAIKU_LAYOUT, shapes, {**DEEPMIND_DEFAULTS, **dict(overrides or {})})
