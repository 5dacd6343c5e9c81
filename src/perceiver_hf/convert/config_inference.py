"""Infer a `PerceiverConfig` from a checkpoint's array shapes, through a converter's `CheckpointLayout`.

Every dimension shows in some weight: vocabulary and input width (embedding), sequence length (position
encoding), latents (latent array), q/k and v widths (attention projections), MLP widening factors and the
number of self-attention layers. Settings the weights cannot show (head counts, block repeats, activation,
LayerNorm eps, residuals) come from the converter as `settings`.
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

from ..configuration_perceiver import PerceiverConfig
from .errors import ConversionError
from .mapping import SELF_ATTENTION_LAYER_PREFIX, CheckpointLayout, Rule, Shape

ENCODER = "perceiver.encoder.cross_attention"
DECODER = "perceiver.decoder.cross_attention"


class _Shapes:
    """Source array shapes looked up by our state-dict key (converted: a transposed matrix swaps its axes)."""

    def __init__(self, rules: Sequence[Rule], source_shapes: Mapping[str, Shape]) -> None:
        self._rules = {rule.target: rule for rule in rules}
        self._source_shapes = source_shapes

    def __call__(self, key: str, rank: int) -> Shape:
        rule = self._rules.get(key)
        if rule is None or rule.source not in self._source_shapes:
            named = f" (expected as {rule.source!r})" if rule else ""
            raise ConversionError(
                f"The checkpoint has no array for {key}{named}; every Perceiver IO language model has one, so "
                "this is not a checkpoint of this model family, or it is damaged."
            )
        shape = rule.source_shape_as_target(self._source_shapes[rule.source])
        if len(shape) != rank:
            raise ConversionError(f"Checkpoint array {rule.source!r} has shape {list(shape)}; expected {rank} axes.")
        return shape

    def attention_layer(self, prefix: str) -> dict[str, int]:
        """q/k width, v width and MLP widening factor of the attention layer at our `prefix`."""
        hidden, width = self(f"{prefix}.mlp.fc1.weight", 2)  # [widening * C, C]
        return {
            "qk": self(f"{prefix}.attention.q_proj.weight", 2)[0],
            "v": self(f"{prefix}.attention.v_proj.weight", 2)[0],
            "widening": max(1, hidden // width),  # not a whole factor: the shape check lists the MLP as mis-shaped
        }


def infer_config(
    layout: CheckpointLayout, source_shapes: Mapping[str, Shape], settings: Mapping[str, Any]
) -> PerceiverConfig:
    """The `PerceiverConfig` whose dimensions match a checkpoint laid out as `layout`, with `settings` applied last.

    Args:
        layout: where the checkpoint keeps each part of the model.
        source_shapes: the checkpoint's array shapes by source name.
        settings: `PerceiverConfig` fields the weights do not show; they override inferred values too.

    Raises:
        ConversionError: an array the inference needs is missing or has the wrong number of axes.
    """
    num_layers = layout.count_self_attention_layers(source_shapes)
    shape = _Shapes(layout.rules(num_layers), source_shapes)
    vocab_size, input_channels = shape("perceiver.encoder.input_adapter.text_embedding.weight", 2)
    num_latents, latent_channels = shape("perceiver.encoder.latent_provider.query", 2)
    encoder = shape.attention_layer(ENCODER)
    # a sequence classifier has no masked-LM decoder (its decoder: `transformers_classification`)
    decoder = shape.attention_layer(DECODER) if DECODER in layout.cross_attention_layers else None
    self_attention = shape.attention_layer(f"{SELF_ATTENTION_LAYER_PREFIX}0")
    inferred = dict(
        vocab_size=vocab_size,
        max_seq_len=shape("perceiver.encoder.input_adapter.pos_encoding", 2)[0],
        num_input_channels=input_channels,
        num_latents=num_latents,
        num_latent_channels=latent_channels,
        num_cross_attention_qk_channels=encoder["qk"],
        num_cross_attention_v_channels=encoder["v"],
        cross_attention_widening_factor=encoder["widening"],
        num_self_attention_qk_channels=self_attention["qk"],
        num_self_attention_v_channels=self_attention["v"],
        self_attention_widening_factor=self_attention["widening"],
        num_self_attention_layers_per_block=num_layers,
    )
    if decoder is not None:
        inferred.update(
            decoder_num_cross_attention_qk_channels=decoder["qk"],
            decoder_num_cross_attention_v_channels=decoder["v"],
            decoder_cross_attention_widening_factor=decoder["widening"],
        )
    return PerceiverConfig(**{**inferred, **settings})
