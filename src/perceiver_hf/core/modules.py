"""Generic Perceiver IO: encoder, decoder and the model that chains them.

Data flow (B batch, M inputs, N latents, O outputs):

    inputs --InputAdapter--> [B, M, C] --cross-attention--> latents [B, N, D]
           --(self-attention block) x num_self_attention_blocks--> [B, N, D]
    output queries [B, O, F] --cross-attention to latents--> [B, O, F] --OutputAdapter--> task outputs
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from typing import Any, Callable, Optional

import torch
from torch import nn
from torch.utils.checkpoint import checkpoint

from .adapters import InputAdapter, OutputAdapter, OutputQueryProvider, TrainableQueryProvider
from .layers import CrossAttentionLayer, SelfAttentionBlock


@dataclass
class EncoderOutput:
    """What `PerceiverEncoder` returns.

    Attributes:
        last_hidden_state: latents after the last self-attention layer [B, N, D].
        hidden_states: latents after the cross-attention and after every self-attention layer, if requested.
        self_attentions: self-attention probabilities [B, H, N, N] per applied layer, if requested.
        cross_attentions: cross-attention probabilities [B, H, N, M], if requested.
    """

    last_hidden_state: torch.Tensor
    hidden_states: Optional[tuple[torch.Tensor, ...]] = None
    self_attentions: Optional[tuple[torch.Tensor, ...]] = None
    cross_attentions: Optional[tuple[torch.Tensor, ...]] = None


class _Checkpointable(nn.Module):
    """Runs sub-layers through activation checkpointing when `gradient_checkpointing` is on and training.

    transformers' `gradient_checkpointing_enable()` sets `gradient_checkpointing` and
    `_gradient_checkpointing_func` on every module that has the attribute, so this works with `Trainer` too.
    """

    def __init__(self) -> None:
        super().__init__()
        self.gradient_checkpointing = False
        self._gradient_checkpointing_func: Callable[..., Any] = partial(checkpoint, use_reentrant=False)

    def _run(self, layer: nn.Module, *args: Any) -> Any:
        if self.gradient_checkpointing and self.training and torch.is_grad_enabled():
            return self._gradient_checkpointing_func(layer.__call__, *args)
        return layer(*args)


class PerceiverEncoder(_Checkpointable):
    """Cross-attends a learned latent array to the adapted input, then refines it with self-attention.

    Args:
        input_adapter: maps inputs to [B, M, C], C = `input_adapter.num_input_channels`.
        num_latents: N, number of latent vectors.
        num_latent_channels: D, latent width.
        num_cross_attention_heads: heads of the input cross-attention.
        num_cross_attention_qk_channels: q/k width of the cross-attention (default: C).
        num_cross_attention_v_channels: value width of the cross-attention (default: q/k width).
        cross_attention_widening_factor: MLP widening of the cross-attention layer.
        cross_attention_residual: add the latents back after cross-attention (DeepMind: True).
        num_self_attention_heads: heads of each latent self-attention.
        num_self_attention_qk_channels: q/k width of self-attention (default: D).
        num_self_attention_v_channels: value width of self-attention (default: q/k width).
        num_self_attention_layers_per_block: layers in the self-attention block.
        num_self_attention_blocks: how often the block is applied; the blocks share weights.
        self_attention_widening_factor: MLP widening of the self-attention layers.
        dropout: dropout rate everywhere (0 = DeepMind's inference).
        activation: MLP activation ("gelu_tanh" = DeepMind's).
        layer_norm_eps: LayerNorm epsilon (Haiku default 1e-5).
        init_scale: std of the latent array's initialisation.
    """

    def __init__(
        self,
        input_adapter: InputAdapter,
        num_latents: int,
        num_latent_channels: int,
        num_cross_attention_heads: int = 4,
        num_cross_attention_qk_channels: Optional[int] = None,
        num_cross_attention_v_channels: Optional[int] = None,
        cross_attention_widening_factor: int = 1,
        cross_attention_residual: bool = True,
        num_self_attention_heads: int = 4,
        num_self_attention_qk_channels: Optional[int] = None,
        num_self_attention_v_channels: Optional[int] = None,
        num_self_attention_layers_per_block: int = 6,
        num_self_attention_blocks: int = 1,
        self_attention_widening_factor: int = 1,
        dropout: float = 0.0,
        activation: str = "gelu_tanh",
        layer_norm_eps: float = 1e-5,
        init_scale: float = 0.02,
    ) -> None:
        super().__init__()
        if num_self_attention_blocks < 1:
            raise ValueError(f"num_self_attention_blocks must be >= 1, got {num_self_attention_blocks}.")
        self.input_adapter = input_adapter
        self.num_self_attention_blocks = num_self_attention_blocks
        self.latent_provider = TrainableQueryProvider(num_latents, num_latent_channels, init_scale=init_scale)
        self.cross_attention = CrossAttentionLayer(
            num_heads=num_cross_attention_heads,
            num_q_input_channels=num_latent_channels,
            num_kv_input_channels=input_adapter.num_input_channels,
            # default C, the input (key/value) width, as documented and as DeepMind's CrossAttention does
            num_qk_channels=num_cross_attention_qk_channels or input_adapter.num_input_channels,
            num_v_channels=num_cross_attention_v_channels,
            widening_factor=cross_attention_widening_factor,
            residual=cross_attention_residual,
            dropout=dropout,
            activation=activation,
            layer_norm_eps=layer_norm_eps,
        )
        self.self_attention = SelfAttentionBlock(
            num_layers=num_self_attention_layers_per_block,
            num_heads=num_self_attention_heads,
            num_channels=num_latent_channels,
            num_qk_channels=num_self_attention_qk_channels,
            num_v_channels=num_self_attention_v_channels,
            widening_factor=self_attention_widening_factor,
            dropout=dropout,
            activation=activation,
            layer_norm_eps=layer_norm_eps,
        )

    @property
    def latent(self) -> nn.Parameter:
        """The learned latent array [N, D]."""
        return self.latent_provider.query

    def forward(
        self,
        x: torch.Tensor,
        input_mask: Optional[torch.Tensor] = None,
        *,
        return_hidden_states: bool = False,
        return_weights: bool = False,
    ) -> EncoderOutput:
        """Encode `x` (whatever the input adapter takes) with `input_mask` [B, M] (True/1 = valid input)."""
        x_in = self.input_adapter(x)  # [B, M, C]
        key_mask = None if input_mask is None else input_mask.bool()
        latents = self.latent_provider(x_in.shape[0])  # [B, N, D]
        latents, cross_weights = self._run(self.cross_attention, latents, x_in, key_mask, None, return_weights)

        hidden_states = [latents]
        self_weights = []
        for _ in range(self.num_self_attention_blocks):
            for layer in self.self_attention.layers:
                latents, weights = self._run(layer, latents, return_weights)  # [B, N, D]
                hidden_states.append(latents)
                self_weights.append(weights)
        return EncoderOutput(
            last_hidden_state=latents,
            hidden_states=tuple(hidden_states) if return_hidden_states else None,
            self_attentions=tuple(self_weights) if return_weights else None,
            cross_attentions=(cross_weights,) if return_weights else None,
        )


class PerceiverDecoder(_Checkpointable):
    """Cross-attends output queries to the latents, then applies the output adapter (if any).

    Args:
        output_adapter: maps [B, O, F] to task outputs; None returns the decoder output itself.
        num_latent_channels: D, latent width.
        output_query_provider: the output queries; if None, a `TrainableQueryProvider` of
            `output_adapter.num_output_queries` x `output_adapter.num_output_query_channels` is created.
        num_cross_attention_heads: heads of the cross-attention.
        num_cross_attention_qk_channels: q/k width (default: F).
        num_cross_attention_v_channels: value width (default: q/k width).
        cross_attention_widening_factor: MLP widening (DeepMind's decoder: 1).
        cross_attention_residual: add the queries back after attention (DeepMind's MLM decoder: False).
        dropout, activation, layer_norm_eps, init_scale: as in `PerceiverEncoder`.
    """

    def __init__(
        self,
        output_adapter: Optional[OutputAdapter],
        num_latent_channels: int,
        output_query_provider: Optional[OutputQueryProvider] = None,
        num_cross_attention_heads: int = 4,
        num_cross_attention_qk_channels: Optional[int] = None,
        num_cross_attention_v_channels: Optional[int] = None,
        cross_attention_widening_factor: int = 1,
        cross_attention_residual: bool = False,
        dropout: float = 0.0,
        activation: str = "gelu_tanh",
        layer_norm_eps: float = 1e-5,
        init_scale: float = 0.02,
    ) -> None:
        super().__init__()
        if output_query_provider is None:
            if output_adapter is None or output_adapter.num_output_queries is None:
                raise ValueError(
                    "PerceiverDecoder needs output queries: pass output_query_provider=..., or an output adapter "
                    "that declares num_output_queries (e.g. TiedTextOutputAdapter(max_seq_len=...))."
                )
            output_query_provider = TrainableQueryProvider(
                output_adapter.num_output_queries, output_adapter.num_output_query_channels, init_scale=init_scale
            )
        num_query_channels = output_query_provider.num_query_channels
        self.output_query_provider = output_query_provider
        self.cross_attention = CrossAttentionLayer(
            num_heads=num_cross_attention_heads,
            num_q_input_channels=num_query_channels,
            num_kv_input_channels=num_latent_channels,
            num_qk_channels=num_cross_attention_qk_channels,
            num_v_channels=num_cross_attention_v_channels,
            widening_factor=cross_attention_widening_factor,
            residual=cross_attention_residual,
            dropout=dropout,
            activation=activation,
            layer_norm_eps=layer_norm_eps,
        )
        self.output_adapter = output_adapter

    def forward(
        self,
        latents: torch.Tensor,
        *,
        query_positions: Optional[torch.Tensor] = None,
        num_queries: Optional[int] = None,
        query_mask: Optional[torch.Tensor] = None,
        return_weights: bool = False,
    ) -> tuple[Any, Optional[torch.Tensor]]:
        """Decode latents [B, N, D].

        Args:
            query_positions: long [B, K], which output queries to decode (-1 = padding slot); default all.
            num_queries: decode the first `num_queries` queries (when `query_positions` is None).
            query_mask: bool [B, O or K], False for queries whose attention output must be 0 (DeepMind's query_mask).
            return_weights: also return the cross-attention probabilities.

        Returns:
            (output adapter output, or the decoder output [B, O, F]; weights or None)
        """
        queries = self.output_query_provider(latents.shape[0], positions=query_positions, num_queries=num_queries)
        if query_positions is not None:
            valid = query_positions >= 0  # [B, K]
            query_mask = valid if query_mask is None else query_mask.bool() & valid
        elif query_mask is not None:
            query_mask = query_mask.bool()
        output, weights = self._run(self.cross_attention, queries, latents, None, query_mask, return_weights)
        if self.output_adapter is not None:
            output = self.output_adapter(output)
        return output, weights


class PerceiverIO(nn.Module):
    """An encoder followed by a decoder: `model(x, input_mask)` -> decoder output.

    By default the decoder decodes all of its output queries (for a text decoder: `max_seq_len` positions,
    whatever the input length) without a query mask. For DeepMind's masked language model semantics pass
    `num_queries=L` and `query_mask=input_mask` (as `MaskedLanguageModel` and `PerceiverForMaskedLM` do).
    """

    def __init__(self, encoder: PerceiverEncoder, decoder: PerceiverDecoder) -> None:
        super().__init__()
        self.encoder = encoder
        self.decoder = decoder

    def forward(
        self,
        x: torch.Tensor,
        input_mask: Optional[torch.Tensor] = None,
        query_positions: Optional[torch.Tensor] = None,
        num_queries: Optional[int] = None,
        query_mask: Optional[torch.Tensor] = None,
    ) -> Any:
        latents = self.encoder(x, input_mask).last_hidden_state  # [B, N, D]
        output, _ = self.decoder(
            latents, query_positions=query_positions, num_queries=num_queries, query_mask=query_mask
        )
        return output
