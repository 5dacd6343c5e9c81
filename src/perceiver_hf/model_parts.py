"""The core modules a `PerceiverConfig` describes: the one place a config becomes an encoder or a decoder.

    build_encoder(config)     text encoder: `TextInputAdapter` + `PerceiverEncoder` (`encoder_spec`)
    build_decoder(config)     masked-LM decoder: `max_seq_len` learned queries + `PerceiverDecoder` (`decoder_spec`)
    build_classifier(config)  sequence classification decoder (`classifier_spec`)

The Hugging Face classes (`PerceiverModel`, the classification heads) build their parts here; the text API
(`text.language.build_text_encoder`) and these builders both end in `text.language.text_encoder` /
`text_decoder`, the modules' one constructor.
"""

from __future__ import annotations

from .configuration_perceiver import PerceiverConfig
from .configuration_specs import classifier_spec, decoder_spec, encoder_spec
from .core.modules import PerceiverDecoder, PerceiverEncoder
from .text.classification import classification_decoder
from .text.language import text_decoder, text_encoder


def build_encoder(config: PerceiverConfig) -> PerceiverEncoder:
    """The text encoder `config` describes: input ids [B, L] -> latents [B, N, D]."""
    return text_encoder(
        vocab_size=config.vocab_size,
        max_seq_len=config.max_seq_len,
        num_input_channels=config.num_input_channels,
        init_scale=config.initializer_range,
        spec=encoder_spec(config),
        scale_input_embeddings=config.scale_input_embeddings,
    )


def build_decoder(config: PerceiverConfig) -> PerceiverDecoder:
    """The masked-LM decoder `config` describes: latents [B, N, D] -> per-position features [B, K, C]."""
    return text_decoder(
        max_seq_len=config.max_seq_len, num_query_channels=config.num_input_channels, spec=decoder_spec(config)
    )


def build_classifier(config: PerceiverConfig) -> PerceiverDecoder:
    """The sequence classification decoder `config` describes: latents [B, N, D] -> logits [B, num_labels]."""
    return classification_decoder(
        num_classes=config.num_labels,
        num_queries=config.classifier_num_queries,
        num_query_channels=config.classifier_num_query_channels,
        spec=classifier_spec(config),
    )


__all__ = ["build_classifier", "build_decoder", "build_encoder"]
