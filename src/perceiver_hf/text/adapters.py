"""Text input and output adapters."""

from __future__ import annotations

import math
from typing import Optional

import torch
from torch import nn

from ..core.adapters import InputAdapter, OutputAdapter


class TextInputAdapter(InputAdapter):
    """Token embedding (times sqrt(C) if `scale_embeddings`) plus a learned position encoding.

    Args:
        vocab_size: number of token ids.
        max_seq_len: longest input the position encoding covers.
        num_input_channels: embedding width C.
        init_scale: std of the position encoding's initialisation.
        scale_embeddings: multiply the token embedding by sqrt(C) before adding the position encoding, as the
            perceiver-io library's `TextInputAdapter` does; DeepMind's model does not (the default).
    """

    def __init__(
        self, vocab_size: int, max_seq_len: int, num_input_channels: int, init_scale: float = 0.02,
        scale_embeddings: bool = False,
    ) -> None:
        super().__init__(num_input_channels)
        self.vocab_size = vocab_size
        self.max_seq_len = max_seq_len
        self.scale_embeddings = scale_embeddings
        self.embedding_scale = math.sqrt(num_input_channels) if scale_embeddings else 1.0
        self.text_embedding = nn.Embedding(vocab_size, num_input_channels)
        self.pos_encoding = nn.Parameter(torch.empty(max_seq_len, num_input_channels))
        with torch.no_grad():
            nn.init.trunc_normal_(self.pos_encoding, std=init_scale, a=-2 * init_scale, b=2 * init_scale)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Token ids [B, L], or token embeddings [B, L, C] (transformers' `inputs_embeds`) -> inputs [B, L, C]."""
        seq_len = x.shape[1]
        if seq_len > self.max_seq_len:
            raise ValueError(
                f"Input has {seq_len} tokens but this model handles at most max_seq_len={self.max_seq_len}; "
                f"truncate the input (e.g. tokenizer(..., truncation=True, max_length={self.max_seq_len}))."
            )
        embedded = x if x.is_floating_point() else self.text_embedding(x)  # [B, L, C]
        if self.scale_embeddings:
            embedded = embedded * self.embedding_scale
        return embedded + self.pos_encoding[:seq_len]  # [B, L, C]


class TiedTextOutputAdapter(OutputAdapter):
    """Logits = decoder output @ embedding^T + bias, sharing the input embedding (DeepMind's `EmbeddingDecoder`).

    Args:
        max_seq_len: number of output positions; a `PerceiverDecoder` built without an explicit query
            provider learns one query per position.
        embedding_weights: the input embedding matrix [V, C] to tie to. If None, `vocab_size` and
            `num_output_query_channels` create an untied output matrix.
        vocab_size, num_output_query_channels: sizes for the untied case.
    """

    def __init__(
        self,
        max_seq_len: Optional[int] = None,
        embedding_weights: Optional[nn.Parameter] = None,
        *,
        vocab_size: Optional[int] = None,
        num_output_query_channels: Optional[int] = None,
    ) -> None:
        if embedding_weights is None:
            if vocab_size is None or num_output_query_channels is None:
                raise ValueError("Pass embedding_weights to tie, or vocab_size and num_output_query_channels.")
            embedding_weights = nn.Parameter(torch.empty(vocab_size, num_output_query_channels))
            nn.init.normal_(embedding_weights, std=0.02)
        vocab_size, num_channels = embedding_weights.shape
        super().__init__(num_output_query_channels=num_channels, num_output_queries=max_seq_len)
        self.weight = embedding_weights  # [V, C], shared with the input embedding when tied
        self.bias = nn.Parameter(torch.zeros(vocab_size))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Decoder output [B, O, C] -> logits [B, O, V]."""
        return nn.functional.linear(x, self.weight, self.bias)
