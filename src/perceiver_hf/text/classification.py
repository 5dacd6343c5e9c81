"""Perceiver IO text classifiers from generic parts (the perceiver-io library's `TextClassifier`, plain PyTorch).

    TextClassifier:  input ids [B, L] -> encoder -> latents [B, N, D]
                     -> a few learned queries [O, F] cross-attend to the latents -> linear -> logits [B, num_classes]
    TokenClassifier: input ids [B, L] -> encoder -> latents -> one learned query per input position (the masked-LM
                     decoder's scheme) -> linear -> logits [B, L, num_classes]

`classification_decoder` is the one builder of the sequence classification decoder; the Hugging Face class
`PerceiverForSequenceClassification` builds its decoder with it too (from `PerceiverConfig`'s `classifier_*`
fields), so both fronts make the same modules.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Optional

import torch
from torch import nn

from ..core.adapters import TrainableQueryProvider
from ..core.classification import ClassificationOutputAdapter
from ..core.modules import PerceiverDecoder, PerceiverIO
from ..core.specs import DEFAULT_ACTIVATION, DEFAULT_INIT_SCALE, DEFAULT_LAYER_NORM_EPS, DecoderSpec, decoder_spec
from .language import TextDecoderConfig, TextEncoderConfig, build_text_decoder, build_text_encoder

__all__ = [
    "ClassificationDecoderConfig",
    "TextClassifier",
    "TokenClassifier",
    "build_classification_decoder",
    "classification_decoder",
]


@dataclass
class ClassificationDecoderConfig:
    """Decoder of a sequence classifier: `num_output_queries` learned queries cross-attend to the latents
    (perceiver-io option names; defaults as transformers' `PerceiverClassificationDecoder`: one query of the
    latent width, one head, query residual on)."""

    num_classes: int = 2
    num_output_queries: int = 1
    num_output_query_channels: Optional[int] = None  # None: the latent width D
    num_cross_attention_heads: int = 1
    num_cross_attention_qk_channels: Optional[int] = None
    num_cross_attention_v_channels: Optional[int] = None
    cross_attention_widening_factor: int = 1
    cross_attention_residual: bool = True
    dropout: float = 0.0
    activation: str = DEFAULT_ACTIVATION
    layer_norm_eps: float = DEFAULT_LAYER_NORM_EPS
    init_scale: float = DEFAULT_INIT_SCALE


_SIZE_FIELDS = ("num_classes", "num_output_queries", "num_output_query_channels")  # not spec options


def classification_decoder(
    num_classes: int, num_queries: int, num_query_channels: Optional[int], spec: DecoderSpec
) -> PerceiverDecoder:
    """A `PerceiverDecoder` whose `num_queries` learned queries (width `num_query_channels`, None: the latent
    width) cross-attend to the latents; their logits are averaged: latents [B, N, D] -> [B, num_classes]."""
    width = num_query_channels or spec.num_latent_channels
    queries = TrainableQueryProvider(num_queries, width, spec.init_scale)
    adapter = ClassificationOutputAdapter(num_classes, width, pool_queries=True)
    return PerceiverDecoder(adapter, output_query_provider=queries, spec=spec)


def build_classification_decoder(config: ClassificationDecoderConfig, num_latent_channels: int) -> PerceiverDecoder:
    """The sequence classification decoder `config` describes, attending to latents of width `num_latent_channels`."""
    options = {name: value for name, value in asdict(config).items() if name not in _SIZE_FIELDS}
    spec = decoder_spec(num_latent_channels, **options)
    return classification_decoder(
        config.num_classes, config.num_output_queries, config.num_output_query_channels, spec
    )


class TextClassifier(nn.Module):
    """A Perceiver IO sequence classifier; `.model` is the `PerceiverIO`.

    `forward(input_ids [B, L], input_mask [B, L] = None)` returns logits [B, num_classes]; the input mask
    masks the encoder's keys (padding is never attended to).
    """

    def __init__(
        self,
        encoder: TextEncoderConfig,
        decoder: ClassificationDecoderConfig,
        num_latents: int,
        num_latent_channels: int,
    ) -> None:
        super().__init__()
        self.model = PerceiverIO(
            build_text_encoder(encoder, num_latents, num_latent_channels),
            build_classification_decoder(decoder, num_latent_channels),
        )

    def forward(self, input_ids: torch.Tensor, input_mask: Optional[torch.Tensor] = None) -> torch.Tensor:
        return self.model(input_ids, input_mask)  # [B, num_classes]


class TokenClassifier(nn.Module):
    """A Perceiver IO token classifier: the masked-LM decoder's per-position queries, then a linear layer.

    `forward(input_ids [B, L], input_mask [B, L] = None, positions [B, K] = None)` returns logits
    [B, L, num_classes], or [B, K, num_classes] at `positions` only (-1 = unused slot). Padded positions are
    masked queries (their attention output is 0) and padded inputs masked keys.
    """

    def __init__(
        self,
        encoder: TextEncoderConfig,
        decoder: TextDecoderConfig,
        num_classes: int,
        num_latents: int,
        num_latent_channels: int,
    ) -> None:
        super().__init__()
        adapter = ClassificationOutputAdapter(num_classes, encoder.num_input_channels, pool_queries=False)
        self.model = PerceiverIO(
            build_text_encoder(encoder, num_latents, num_latent_channels),
            build_text_decoder(decoder, num_latent_channels, encoder.num_input_channels, adapter),
        )

    def forward(
        self,
        input_ids: torch.Tensor,
        input_mask: Optional[torch.Tensor] = None,
        positions: Optional[torch.Tensor] = None,
    ) -> torch.Tensor:
        query_mask = input_mask
        if positions is not None and input_mask is not None:
            query_mask = input_mask.gather(1, positions.clamp(min=0))  # [B, K]
        return self.model(
            input_ids, input_mask, query_positions=positions, num_queries=input_ids.shape[1], query_mask=query_mask
        )  # [B, L or K, num_classes]

