"""Classification output adapters: decoder output -> class logits, per sequence or per decoded position."""

from __future__ import annotations

import torch
from torch import nn

from .adapters import OutputAdapter


class ClassificationOutputAdapter(OutputAdapter):
    """A linear layer from the decoder output to class logits (the perceiver-io library's classification adapter).

    With `pool_queries` (sequence classification) the logits of the O decoder queries are averaged:
    [B, O, F] -> [B, num_classes] (one query: exactly DeepMind's / transformers' `[:, 0, :]`). Without it
    (token classification) every decoded position keeps its logits: [B, K, F] -> [B, K, num_classes].

    Args:
        num_classes: number of labels.
        num_output_query_channels: F, width of the decoder output.
        num_output_queries: O, so that a `PerceiverDecoder` built without a query provider learns O queries.
        pool_queries: average over the queries (sequence) instead of keeping one output per query (token).
    """

    def __init__(
        self,
        num_classes: int,
        num_output_query_channels: int,
        num_output_queries: int | None = None,
        pool_queries: bool = True,
    ) -> None:
        super().__init__(num_output_query_channels=num_output_query_channels, num_output_queries=num_output_queries)
        self.num_classes = num_classes
        self.pool_queries = pool_queries
        self.linear = nn.Linear(num_output_query_channels, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """[B, O, F] -> [B, num_classes] (pooled) or [B, O, num_classes]."""
        logits = self.linear(x)  # [B, O, num_classes]
        return logits.mean(dim=1) if self.pool_queries else logits
