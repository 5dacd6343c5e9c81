"""Where each `PerceiverConfig` field becomes a module option: the core specs a config describes.

One line per field, by name, so that searching for a field leads here in one hop:

    encoder_spec(config)     -> EncoderSpec   (the encoder: latents, cross-attention, self-attention block)
    decoder_spec(config)     -> DecoderSpec   (the masked-LM decoder: the `decoder_*` fields)
    classifier_spec(config)  -> DecoderSpec   (the sequence classification decoder: the `classifier_*` fields)

The sizes of the text adapters and of the output queries are read where those are built (`model_parts`).
"""

from __future__ import annotations

from typing import Any

from .configuration_perceiver import PerceiverConfig
from .core.specs import AttentionSpec, DecoderSpec, EncoderSpec


def _layer_options(config: PerceiverConfig) -> dict[str, Any]:
    """The options every attention layer shares: dropout, MLP activation, LayerNorm epsilon."""
    return {"dropout": config.dropout, "activation": config.hidden_act, "layer_norm_eps": config.layer_norm_eps}


def encoder_spec(config: PerceiverConfig) -> EncoderSpec:
    """The encoder `config` describes: its latents, input cross-attention and latent self-attention block."""
    return EncoderSpec(
        num_latents=config.num_latents,
        num_latent_channels=config.num_latent_channels,
        cross_attention=AttentionSpec(
            num_heads=config.num_cross_attention_heads,
            num_qk_channels=config.num_cross_attention_qk_channels,
            num_v_channels=config.num_cross_attention_v_channels,
            widening_factor=config.cross_attention_widening_factor,
            residual=config.cross_attention_residual,
            **_layer_options(config),
        ),
        self_attention=AttentionSpec(
            num_heads=config.num_self_attention_heads,
            num_qk_channels=config.num_self_attention_qk_channels,
            num_v_channels=config.num_self_attention_v_channels,
            widening_factor=config.self_attention_widening_factor,
            **_layer_options(config),
        ),
        num_self_attention_layers_per_block=config.num_self_attention_layers_per_block,
        num_self_attention_blocks=config.num_self_attention_blocks,
        num_cross_attention_layers=config.num_cross_attention_layers,
        first_cross_attention_layer_shared=config.first_cross_attention_layer_shared,
        first_self_attention_block_shared=config.first_self_attention_block_shared,
        init_scale=config.initializer_range,
    )


def decoder_spec(config: PerceiverConfig) -> DecoderSpec:
    """The masked-LM decoder `config` describes (its `decoder_*` fields): per-position queries attend to the latents."""
    return DecoderSpec(
        num_latent_channels=config.num_latent_channels,
        cross_attention=AttentionSpec(
            num_heads=config.decoder_num_cross_attention_heads,
            num_qk_channels=config.decoder_num_cross_attention_qk_channels,
            num_v_channels=config.decoder_num_cross_attention_v_channels,
            widening_factor=config.decoder_cross_attention_widening_factor,
            residual=config.decoder_cross_attention_residual,
            **_layer_options(config),
        ),
        init_scale=config.initializer_range,
    )


def classifier_spec(config: PerceiverConfig) -> DecoderSpec:
    """The sequence classification decoder `config` describes (its `classifier_*` fields)."""
    return DecoderSpec(
        num_latent_channels=config.num_latent_channels,
        cross_attention=AttentionSpec(
            num_heads=config.classifier_num_cross_attention_heads,
            num_qk_channels=config.classifier_num_cross_attention_qk_channels,
            num_v_channels=config.classifier_num_cross_attention_v_channels,
            widening_factor=config.classifier_cross_attention_widening_factor,
            residual=config.classifier_cross_attention_residual,
            **_layer_options(config),
        ),
        init_scale=config.initializer_range,
    )


__all__ = ["classifier_spec", "decoder_spec", "encoder_spec"]
