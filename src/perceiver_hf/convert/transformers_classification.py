"""transformers' `PerceiverForSequenceClassification` (text preprocessor + classification decoder) as a source of
`convert transformers`: where its classification decoder keeps each part, and the config fields it implies.

Its encoder is laid out exactly as the masked-LM model's (`from_transformers.TRANSFORMERS_LAYOUT`); its decoder is
`PerceiverClassificationDecoder`: one trainable query of the latent width (`output_position_encodings`), a
cross-attention layer to the latents (1 head, query residual on) and a final Linear to `num_labels`, which is
exactly `perceiver_hf.text.classification.classification_decoder`.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any, Mapping

from torch import nn

from .config_inference import ENCODER, _Shapes
from .mapping import CheckpointLayout, Param, ParamTable, Shape

SOURCE_DECODER = "perceiver.decoder.decoder"
"""transformers' `PerceiverBasicDecoder` inside its `PerceiverClassificationDecoder`."""
CLASSIFIER_ATTENTION = "classifier.cross_attention"


def classification_layout(masked_lm: CheckpointLayout, linear: ParamTable) -> CheckpointLayout:
    """The layout of transformers' sequence classifier: the masked-LM one's encoder, the classification decoder
    (`linear`: the weight and bias names of a torch Linear)."""
    arrays = {name: value for name, value in masked_lm.single_arrays.items() if name.startswith("perceiver.encoder")}
    arrays["classifier.output_query_provider"] = (
        f"{SOURCE_DECODER}.output_position_encodings", (Param("query", "position_embeddings"),)
    )
    arrays["classifier.output_adapter.linear"] = (f"{SOURCE_DECODER}.final_layer", linear)
    return replace(
        masked_lm,
        single_arrays=arrays,
        cross_attention_layers={
            ENCODER: masked_lm.cross_attention_layers[ENCODER],
            CLASSIFIER_ATTENTION: f"{SOURCE_DECODER}.decoding_cross_attention",
        },
    )


def classifier_fields(layout: CheckpointLayout, source_shapes: Mapping[str, Shape]) -> dict[str, Any]:
    """The `classifier_*` sizes and `num_labels` the classification decoder's weights show."""
    shape = _Shapes(layout.rules(layout.count_self_attention_layers(source_shapes)), source_shapes)
    num_queries, query_channels = shape("classifier.output_query_provider.query", 2)
    attention = shape.attention_layer(CLASSIFIER_ATTENTION)
    return dict(
        num_labels=shape("classifier.output_adapter.linear.weight", 2)[0],
        classifier_num_queries=num_queries,
        classifier_num_query_channels=query_channels,
        classifier_num_cross_attention_qk_channels=attention["qk"],
        classifier_num_cross_attention_v_channels=attention["v"],
        classifier_cross_attention_widening_factor=attention["widening"],
    )


def classifier_settings(model: nn.Module) -> dict[str, Any]:
    """The classifier settings the weights do not show (heads, query residual) and the labels, from `model`."""
    attention = model.perceiver.decoder.decoder.decoding_cross_attention.attention
    config = model.config
    return dict(
        classifier_num_cross_attention_heads=attention.self.num_heads,
        classifier_cross_attention_residual=attention.use_query_residual,
        id2label=dict(config.id2label),
        label2id=dict(config.label2id),
        problem_type=config.problem_type,
        # no masked-LM decoder: its widths stay unset rather than defaults that describe nothing
        decoder_num_cross_attention_qk_channels=None,
        decoder_num_cross_attention_v_channels=None,
    )


__all__ = ["classification_layout", "classifier_fields", "classifier_settings"]
