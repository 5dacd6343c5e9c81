"""Base classes for what goes into and comes out of a Perceiver IO model.

- `InputAdapter`: turns task inputs (token ids, pixels, ...) into an array [B, M, C] the encoder attends to.
- `OutputQueryProvider`: produces the decoder's output queries [B, O, F].
- `OutputAdapter`: turns the decoder output [B, O, F] into task outputs (e.g. logits).
"""

from __future__ import annotations

from typing import Optional

import torch
from torch import nn


class InputAdapter(nn.Module):
    """Maps task inputs to the encoder's input array [B, M, num_input_channels]."""

    def __init__(self, num_input_channels: int) -> None:
        super().__init__()
        self.num_input_channels = num_input_channels


class OutputQueryProvider(nn.Module):
    """Provides the decoder's output queries.

    `forward(batch_size, positions=None, num_queries=None)` returns [B, O, num_query_channels]:
    the queries at `positions` [B, K] if given, else the first `num_queries` (default: all).
    """

    def __init__(self, num_query_channels: int) -> None:
        super().__init__()
        self.num_query_channels = num_query_channels


class TrainableQueryProvider(OutputQueryProvider):
    """A learned query array [num_queries, num_query_channels] (DeepMind's `TrainablePositionEncoding`)."""

    def __init__(self, num_queries: int, num_query_channels: int, init_scale: float = 0.02) -> None:
        super().__init__(num_query_channels)
        self.num_queries = num_queries
        self.query = nn.Parameter(torch.empty(num_queries, num_query_channels))
        self.init_scale = init_scale
        self.reset_parameters()

    def reset_parameters(self) -> None:
        with torch.no_grad():
            nn.init.trunc_normal_(self.query, std=self.init_scale, a=-2 * self.init_scale, b=2 * self.init_scale)

    def forward(
        self, batch_size: int, positions: Optional[torch.Tensor] = None, num_queries: Optional[int] = None
    ) -> torch.Tensor:
        if positions is not None:
            return self.query[positions.clamp(min=0)]  # [B, K, F]
        num_queries = self.num_queries if num_queries is None else num_queries
        if num_queries > self.num_queries:
            raise ValueError(
                f"Asked for {num_queries} output queries but this model has only {self.num_queries}; "
                f"truncate the input to at most {self.num_queries} positions."
            )
        return self.query[:num_queries].expand(batch_size, -1, -1)  # [B, O, F]


class OutputAdapter(nn.Module):
    """Maps the decoder output [B, O, num_output_query_channels] to task outputs.

    A subclass may set `num_output_queries` so that a `PerceiverDecoder` built without an explicit query
    provider creates a `TrainableQueryProvider(num_output_queries, num_output_query_channels)` for it.
    """

    def __init__(self, num_output_query_channels: int, num_output_queries: Optional[int] = None) -> None:
        super().__init__()
        self.num_output_query_channels = num_output_query_channels
        self.num_output_queries = num_output_queries
