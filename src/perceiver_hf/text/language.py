"""Perceiver IO masked language models from generic parts (the perceiver-io library's text API).

`TextEncoderConfig` / `TextDecoderConfig` describe the encoder (with its `TextInputAdapter`) and the decoder
(with its output queries); `build_text_encoder` / `build_text_decoder` turn them into core modules, and
`MaskedLanguageModel` ties everything together. `PerceiverConfig` (the Hugging Face config) is converted
into these two configs, so there is one construction path for every text model in the package.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import torch
from torch import nn

from ..core.adapters import OutputAdapter, TrainableQueryProvider
from ..core.modules import PerceiverDecoder, PerceiverEncoder, PerceiverIO
from .adapters import TextInputAdapter, TiedTextOutputAdapter

__all__ = [
    "MaskedLanguageModel",
    "TextDecoderConfig",
    "TextEncoderConfig",
    "TextInputAdapter",
    "TiedTextOutputAdapter",
    "build_text_decoder",
    "build_text_encoder",
]


@dataclass
class TextEncoderConfig:
    """Encoder of a text Perceiver IO model, including its `TextInputAdapter`."""

    vocab_size: int = 262
    max_seq_len: int = 2048
    num_input_channels: int = 768
    num_cross_attention_heads: int = 8
    num_cross_attention_qk_channels: Optional[int] = None
    num_cross_attention_v_channels: Optional[int] = None
    cross_attention_widening_factor: int = 1
    cross_attention_residual: bool = True
    num_self_attention_heads: int = 8
    num_self_attention_qk_channels: Optional[int] = None
    num_self_attention_v_channels: Optional[int] = None
    num_self_attention_layers_per_block: int = 6
    num_self_attention_blocks: int = 1
    self_attention_widening_factor: int = 1
    dropout: float = 0.0
    activation: str = "gelu_tanh"
    layer_norm_eps: float = 1e-5
    init_scale: float = 0.02


@dataclass
class TextDecoderConfig:
    """Decoder of a text Perceiver IO model: one learned query per output position."""

    vocab_size: int = 262
    max_seq_len: int = 2048
    num_cross_attention_heads: int = 8
    num_cross_attention_qk_channels: Optional[int] = None
    num_cross_attention_v_channels: Optional[int] = None
    cross_attention_widening_factor: int = 1
    cross_attention_residual: bool = False
    dropout: float = 0.0
    activation: str = "gelu_tanh"
    layer_norm_eps: float = 1e-5
    init_scale: float = 0.02


def build_text_encoder(config: TextEncoderConfig, num_latents: int, num_latent_channels: int) -> PerceiverEncoder:
    """A `PerceiverEncoder` with a `TextInputAdapter`, as `config` describes."""
    input_adapter = TextInputAdapter(
        vocab_size=config.vocab_size,
        max_seq_len=config.max_seq_len,
        num_input_channels=config.num_input_channels,
        init_scale=config.init_scale,
    )
    return PerceiverEncoder(
        input_adapter=input_adapter,
        num_latents=num_latents,
        num_latent_channels=num_latent_channels,
        num_cross_attention_heads=config.num_cross_attention_heads,
        num_cross_attention_qk_channels=config.num_cross_attention_qk_channels,
        num_cross_attention_v_channels=config.num_cross_attention_v_channels,
        cross_attention_widening_factor=config.cross_attention_widening_factor,
        cross_attention_residual=config.cross_attention_residual,
        num_self_attention_heads=config.num_self_attention_heads,
        num_self_attention_qk_channels=config.num_self_attention_qk_channels,
        num_self_attention_v_channels=config.num_self_attention_v_channels,
        num_self_attention_layers_per_block=config.num_self_attention_layers_per_block,
        num_self_attention_blocks=config.num_self_attention_blocks,
        self_attention_widening_factor=config.self_attention_widening_factor,
        dropout=config.dropout,
        activation=config.activation,
        layer_norm_eps=config.layer_norm_eps,
        init_scale=config.init_scale,
    )


def build_text_decoder(
    config: TextDecoderConfig,
    num_latent_channels: int,
    num_query_channels: int,
    output_adapter: Optional[OutputAdapter] = None,
) -> PerceiverDecoder:
    """A `PerceiverDecoder` with `config.max_seq_len` learned queries of width `num_query_channels`."""
    return PerceiverDecoder(
        output_adapter=output_adapter,
        num_latent_channels=num_latent_channels,
        output_query_provider=TrainableQueryProvider(config.max_seq_len, num_query_channels, config.init_scale),
        num_cross_attention_heads=config.num_cross_attention_heads,
        num_cross_attention_qk_channels=config.num_cross_attention_qk_channels,
        num_cross_attention_v_channels=config.num_cross_attention_v_channels,
        cross_attention_widening_factor=config.cross_attention_widening_factor,
        cross_attention_residual=config.cross_attention_residual,
        dropout=config.dropout,
        activation=config.activation,
        layer_norm_eps=config.layer_norm_eps,
        init_scale=config.init_scale,
    )


class MaskedLanguageModel(nn.Module):
    """A Perceiver IO masked language model built from encoder and decoder configs; `.model` is the `PerceiverIO`.

    `forward(input_ids [B, L], input_mask [B, L] = None)` returns logits [B, L, V] (DeepMind's semantics: the
    input mask masks encoder keys and decoder queries).
    """

    def __init__(
        self,
        encoder: TextEncoderConfig,
        decoder: TextDecoderConfig,
        num_latents: int,
        num_latent_channels: int,
    ) -> None:
        super().__init__()
        if (encoder.vocab_size, encoder.max_seq_len) != (decoder.vocab_size, decoder.max_seq_len):
            raise ValueError(
                "Encoder and decoder configs disagree on vocab_size/max_seq_len: "
                f"{(encoder.vocab_size, encoder.max_seq_len)} vs {(decoder.vocab_size, decoder.max_seq_len)}."
            )
        text_encoder = build_text_encoder(encoder, num_latents, num_latent_channels)
        output_adapter = TiedTextOutputAdapter(
            max_seq_len=decoder.max_seq_len,
            embedding_weights=text_encoder.input_adapter.text_embedding.weight,
        )
        text_decoder = build_text_decoder(decoder, num_latent_channels, encoder.num_input_channels, output_adapter)
        self.model = PerceiverIO(text_encoder, text_decoder)

    def forward(self, input_ids: torch.Tensor, input_mask: Optional[torch.Tensor] = None) -> torch.Tensor:
        return self.model(input_ids, input_mask, num_queries=input_ids.shape[1], query_mask=input_mask)
