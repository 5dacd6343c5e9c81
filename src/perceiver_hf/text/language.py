"""Perceiver IO masked language models from generic parts (the perceiver-io library's text API).

`TextEncoderConfig` / `TextDecoderConfig` describe the encoder (with its `TextInputAdapter`) and the decoder
(with its output queries) in the perceiver-io library's flat option names; `build_text_encoder` /
`build_text_decoder` turn them into core specs (`core.specs.encoder_spec` / `decoder_spec`, the same builders
the Hugging Face classes use) and modules, and `MaskedLanguageModel` ties everything together.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Optional

import torch
from torch import nn

from ..core.adapters import OutputAdapter, TrainableQueryProvider
from ..core.modules import PerceiverDecoder, PerceiverEncoder, PerceiverIO
from ..core.specs import (
    DEFAULT_ACTIVATION,
    DEFAULT_INIT_SCALE,
    DEFAULT_LAYER_NORM_EPS,
    DecoderSpec,
    EncoderSpec,
    decoder_spec,
    encoder_spec,
)
from .adapters import TextInputAdapter, TiedTextOutputAdapter

__all__ = [
    "MaskedLanguageModel",
    "TextDecoderConfig",
    "TextEncoderConfig",
    "TextInputAdapter",
    "TiedTextOutputAdapter",
    "build_text_decoder",
    "build_text_encoder",
    "text_decoder",
    "text_encoder",
]


@dataclass
class TextEncoderConfig:
    """Encoder of a text Perceiver IO model, including its `TextInputAdapter`, in the perceiver-io library's
    option names and defaults (`build_text_encoder` turns it into a `core.EncoderSpec`)."""

    vocab_size: int = 262
    max_seq_len: int = 2048
    num_input_channels: int = 768
    scale_input_embeddings: bool = False  # perceiver-io's TextInputAdapter: True (token embedding * sqrt(C))
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
    num_cross_attention_layers: int = 1
    first_cross_attention_layer_shared: bool = False
    first_self_attention_block_shared: bool = True
    dropout: float = 0.0
    activation: str = DEFAULT_ACTIVATION
    layer_norm_eps: float = DEFAULT_LAYER_NORM_EPS
    init_scale: float = DEFAULT_INIT_SCALE


@dataclass
class TextDecoderConfig:
    """Decoder of a text Perceiver IO model: one learned query per output position (perceiver-io option names and
    defaults; `build_text_decoder` turns it into a `core.DecoderSpec`)."""

    vocab_size: int = 262
    max_seq_len: int = 2048
    num_cross_attention_heads: int = 8
    num_cross_attention_qk_channels: Optional[int] = None
    num_cross_attention_v_channels: Optional[int] = None
    cross_attention_widening_factor: int = 1
    cross_attention_residual: bool = False
    dropout: float = 0.0
    activation: str = DEFAULT_ACTIVATION
    layer_norm_eps: float = DEFAULT_LAYER_NORM_EPS
    init_scale: float = DEFAULT_INIT_SCALE


_TEXT_FIELDS = ("vocab_size", "max_seq_len", "num_input_channels", "scale_input_embeddings")  # the adapters' fields, not the spec's


def _spec_options(config: TextEncoderConfig | TextDecoderConfig) -> dict[str, Any]:
    return {name: value for name, value in asdict(config).items() if name not in _TEXT_FIELDS}


def text_encoder(
    vocab_size: int, max_seq_len: int, num_input_channels: int, init_scale: float, spec: EncoderSpec,
    scale_input_embeddings: bool = False,
) -> PerceiverEncoder:
    """A `PerceiverEncoder` as `spec` describes, reading text through a `TextInputAdapter` of the given sizes
    (token embeddings times sqrt(num_input_channels) if `scale_input_embeddings`)."""
    adapter = TextInputAdapter(vocab_size, max_seq_len, num_input_channels, init_scale, scale_input_embeddings)
    return PerceiverEncoder(adapter, spec=spec)


def text_decoder(
    max_seq_len: int, num_query_channels: int, spec: DecoderSpec, output_adapter: Optional[OutputAdapter] = None
) -> PerceiverDecoder:
    """A `PerceiverDecoder` as `spec` describes, with `max_seq_len` learned queries of width `num_query_channels`."""
    queries = TrainableQueryProvider(max_seq_len, num_query_channels, spec.init_scale)
    return PerceiverDecoder(output_adapter, output_query_provider=queries, spec=spec)


def build_text_encoder(config: TextEncoderConfig, num_latents: int, num_latent_channels: int) -> PerceiverEncoder:
    """A `PerceiverEncoder` with a `TextInputAdapter`, as `config` describes."""
    spec = encoder_spec(num_latents, num_latent_channels, **_spec_options(config))
    return text_encoder(
        config.vocab_size, config.max_seq_len, config.num_input_channels, config.init_scale, spec,
        config.scale_input_embeddings,
    )


def build_text_decoder(
    config: TextDecoderConfig,
    num_latent_channels: int,
    num_query_channels: int,
    output_adapter: Optional[OutputAdapter] = None,
) -> PerceiverDecoder:
    """A `PerceiverDecoder` with `config.max_seq_len` learned queries of width `num_query_channels`."""
    spec = decoder_spec(num_latent_channels, **_spec_options(config))
    return text_decoder(config.max_seq_len, num_query_channels, spec, output_adapter)


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
