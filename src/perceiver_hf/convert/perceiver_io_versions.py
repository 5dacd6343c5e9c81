"""The perceiver-io library versions `convert perceiver-io` reads: their text config fields, defaults and semantics.

    0.4        Lightning checkpoints (`LitLanguageModel` / `LitTextClassifier`) or state dicts + settings JSON
    0.9-0.11   Hugging Face folders (`PerceiverMaskedLanguageModel` / `PerceiverTextClassifier`, `backend_model.`)

Between them the text encoder stopped scaling the token embedding by sqrt(C) (`TokenInputAdapter`), the decoder's
query residual became an option (`cross_attention_residual`), the encoder config gained `params` (a checkpoint
to initialise from) and the model config `activation_checkpointing` / `activation_offloading`. Both versions share
the MLP activation (exact GELU), LayerNorm eps, pre-norm layers, the repeated / unshared encoder options and the
unset widths (the encoder cross-attention's q/k width is the latent width D, not DeepMind's input width C).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

_ENCODER_0_4: dict[str, Any] = dict(
    num_cross_attention_heads=8, num_cross_attention_qk_channels=None, num_cross_attention_v_channels=None,
    num_cross_attention_layers=1, first_cross_attention_layer_shared=False, cross_attention_widening_factor=1,
    num_self_attention_heads=8, num_self_attention_qk_channels=None, num_self_attention_v_channels=None,
    num_self_attention_layers_per_block=8, num_self_attention_blocks=1, first_self_attention_block_shared=True,
    self_attention_widening_factor=1, dropout=0.0, init_scale=0.02, freeze=False,
    vocab_size=10003, max_seq_len=256, num_input_channels=64,
)  # fmt: skip
_DECODER_0_4: dict[str, Any] = dict(
    num_cross_attention_heads=8, num_cross_attention_qk_channels=None, num_cross_attention_v_channels=None,
    cross_attention_widening_factor=1, dropout=0.0, init_scale=0.02, freeze=False,
    num_output_query_channels=None, vocab_size=10003, max_seq_len=512,
)  # fmt: skip
_CLASSIFIER_0_4: dict[str, Any] = dict(
    num_cross_attention_heads=8, num_cross_attention_qk_channels=None, num_cross_attention_v_channels=None,
    cross_attention_widening_factor=1, dropout=0.0, init_scale=0.02, freeze=False,
    num_output_queries=1, num_output_query_channels=256, num_classes=100,
)  # fmt: skip
_SEMANTICS: dict[str, Any] = dict(
    hidden_act="gelu", cross_attention_residual=True, mask_padded_queries=False, layer_norm_eps=1e-5,
)  # fmt: skip


@dataclass(frozen=True)
class LibraryVersion:
    """What one perceiver-io version's text models are made of.

    Attributes:
        name: how messages and model cards name it ("perceiver-io 0.4").
        model_keys: the keys of its model settings (the `PerceiverIOConfig` fields).
        encoder / decoder / classifier: its `TextEncoderConfig` / `TextDecoderConfig` / `ClassificationDecoderConfig`
            fields with their defaults.
        semantics: the `PerceiverConfig` fields that make perceiver-hf compute what it computes (the decoder's
            query residual comes from the decoder config where the version has the option).
        all_fields_required: its settings always hold every field (a Hugging Face config.json written from the
            dataclasses); otherwise left-out fields take the defaults (a hand-written settings JSON).
    """

    name: str
    model_keys: tuple[str, ...]
    encoder: Mapping[str, Any]
    decoder: Mapping[str, Any]
    classifier: Mapping[str, Any]
    semantics: Mapping[str, Any]
    all_fields_required: bool


V0_4 = LibraryVersion(
    name="perceiver-io 0.4",
    model_keys=("encoder", "decoder", "num_latents", "num_latent_channels"),
    encoder=_ENCODER_0_4,
    decoder=_DECODER_0_4,
    classifier=_CLASSIFIER_0_4,
    semantics=dict(_SEMANTICS, scale_input_embeddings=True, decoder_cross_attention_residual=True),
    all_fields_required=False,
)
V0_11 = LibraryVersion(
    name="perceiver-io 0.9-0.11",
    model_keys=("encoder", "decoder", "num_latents", "num_latent_channels", "activation_checkpointing",
                "activation_offloading"),
    encoder=dict(_ENCODER_0_4, params=None),
    decoder=dict(_DECODER_0_4, cross_attention_residual=True),
    classifier=dict(_CLASSIFIER_0_4, cross_attention_residual=True),
    semantics=dict(_SEMANTICS, scale_input_embeddings=False),
    all_fields_required=True,
)  # fmt: skip

__all__ = ["LibraryVersion", "V0_11", "V0_4"]
