"""Generic Perceiver IO: encoder, decoder and the model that chains them.

Data flow (B batch, M inputs, N latents, O outputs):

    inputs --InputAdapter--> [B, M, C] --cross-attention--> latents [B, N, D]
           --(self-attention block) x num_self_attention_blocks--> [B, N, D]
           (the first num_cross_attention_layers block applications each start with a cross-attention)
    output queries [B, O, F] --cross-attention to latents--> [B, O, F] --OutputAdapter--> task outputs
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Optional

import torch
from torch import nn

from .adapters import InputAdapter, OutputAdapter, OutputQueryProvider, TrainableQueryProvider
from .attention import AttentionFunction
from .layers import CrossAttentionLayer, SelfAttentionBlock
from .specs import DecoderSpec, EncoderSpec, decoder_spec, encoder_spec


@dataclass
class EncoderOutput:
    """What `PerceiverEncoder` returns.

    Attributes:
        last_hidden_state: latents after the last self-attention layer [B, N, D].
        hidden_states: latents after every applied cross-attention and self-attention layer, in order, if requested.
        self_attentions: self-attention probabilities [B, H, N, N] per applied layer, if requested.
        cross_attentions: cross-attention probabilities [B, H, N, M] per applied cross-attention, if requested.
    """

    last_hidden_state: torch.Tensor
    hidden_states: Optional[tuple[torch.Tensor, ...]] = None
    self_attentions: Optional[tuple[torch.Tensor, ...]] = None
    cross_attentions: Optional[tuple[torch.Tensor, ...]] = None


def _spec_or_options(spec: Any, options: dict[str, Any], build: Callable[[], Any], owner: str, *sizes: Any) -> Any:
    """`spec` if given (then no sizes or options may be), else the spec `build()` makes from the flat options."""
    if spec is None:
        if any(size is None for size in sizes):
            raise TypeError(f"{owner} needs either spec=... or its sizes (num_latent_channels, ...) and flat options.")
        return build()
    if options or any(size is not None for size in sizes):
        raise TypeError(f"{owner} got spec=... and flat options {sorted(options)}; pass one or the other.")
    return spec


def _check_schedule(spec: EncoderSpec) -> None:
    """Refuse block counts the encoder cannot apply, naming the fix."""
    if spec.num_self_attention_blocks < 1:
        raise ValueError(f"num_self_attention_blocks must be >= 1, got {spec.num_self_attention_blocks}.")
    if not 1 <= spec.num_cross_attention_layers <= spec.num_self_attention_blocks:
        raise ValueError(
            f"num_cross_attention_layers must be between 1 and num_self_attention_blocks "
            f"({spec.num_self_attention_blocks}), got {spec.num_cross_attention_layers}: each cross-attention "
            "precedes a block application."
        )


class PerceiverEncoder(nn.Module):
    """Cross-attends a learned latent array to the adapted input, then refines it with self-attention.

    Build it from a spec, `PerceiverEncoder(input_adapter, spec=EncoderSpec(...))`, or with the perceiver-io
    library's flat options, `PerceiverEncoder(input_adapter, num_latents, num_latent_channels, **options)`
    (`num_cross_attention_heads`, `num_cross_attention_qk_channels`, `num_self_attention_layers_per_block`,
    `dropout`, ...: see `specs.encoder_spec`).

    Args:
        input_adapter: maps inputs to [B, M, C], C = `input_adapter.num_input_channels`.
        num_latents: N, number of latent vectors (with the flat options).
        num_latent_channels: D, latent width (with the flat options).
        spec: the whole encoder as an `EncoderSpec` (instead of the flat options).
    """

    def __init__(
        self,
        input_adapter: InputAdapter,
        num_latents: Optional[int] = None,
        num_latent_channels: Optional[int] = None,
        *,
        spec: Optional[EncoderSpec] = None,
        **options: Any,
    ) -> None:
        super().__init__()
        spec = _spec_or_options(spec, options, lambda: encoder_spec(num_latents, num_latent_channels, **options),
                                "PerceiverEncoder", num_latents, num_latent_channels)
        _check_schedule(spec)
        self.spec = spec
        self.input_adapter = input_adapter
        self.num_self_attention_blocks = spec.num_self_attention_blocks
        self.num_cross_attention_layers = spec.num_cross_attention_layers
        self.latent_provider = TrainableQueryProvider(spec.num_latents, spec.num_latent_channels, spec.init_scale)
        num_input_channels = input_adapter.num_input_channels

        def cross_attention() -> CrossAttentionLayer:
            # unset q/k width: the input (key/value) width, as DeepMind's CrossAttention
            return CrossAttentionLayer(
                spec.cross_attention, spec.num_latent_channels, num_input_channels, default_qk_channels=num_input_channels
            )

        def self_attention() -> SelfAttentionBlock:
            return SelfAttentionBlock(spec.self_attention, spec.num_latent_channels, spec.num_self_attention_layers_per_block)

        self.cross_attention = cross_attention()
        self.self_attention = self_attention()
        # the weights of the 2nd..n-th applications, when not shared with the first (the library's cross_attn_n,
        # self_attn_n); absent otherwise, so a shared model's state dict has no extra keys
        self.later_cross_attention = cross_attention() if spec.has_later_cross_attention else None
        self.later_self_attention = self_attention() if spec.has_later_self_attention else None

    def schedule(self) -> list[tuple[Optional[CrossAttentionLayer], SelfAttentionBlock]]:
        """(cross-attention or None, self-attention block) per block application, in order."""
        later_cross = self.cross_attention if self.later_cross_attention is None else self.later_cross_attention
        later_self = self.self_attention if self.later_self_attention is None else self.later_self_attention
        steps: list[tuple[Optional[CrossAttentionLayer], SelfAttentionBlock]] = [(self.cross_attention, self.self_attention)]
        for index in range(1, self.num_self_attention_blocks):
            steps.append((later_cross if index < self.num_cross_attention_layers else None, later_self))
        return steps

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
        attention: Optional[AttentionFunction] = None,
    ) -> EncoderOutput:
        """Encode `x` (whatever the input adapter takes) with `input_mask` [B, M] (True/1 = valid input).

        `attention` is the attention function every layer runs (see `core.attention`; default
        `default_attention_forward`); `return_weights` runs the explicit one and returns the probabilities.
        """
        x_in = self.input_adapter(x)  # [B, M, C]
        key_mask = None if input_mask is None else input_mask.bool()
        latents = self.latent_provider(x_in.shape[0])  # [B, N, D]
        hidden_states: list[torch.Tensor] = []
        self_weights, cross_weights = [], []
        for cross_attention, block in self.schedule():
            if cross_attention is not None:
                latents, weights = cross_attention(latents, x_in, key_mask, None, return_weights, attention)
                hidden_states.append(latents)
                cross_weights.append(weights)
            for layer in block.layers:
                latents, weights = layer(latents, return_weights, attention)  # [B, N, D]
                hidden_states.append(latents)
                self_weights.append(weights)
        return EncoderOutput(
            last_hidden_state=latents,
            hidden_states=tuple(hidden_states) if return_hidden_states else None,
            self_attentions=tuple(self_weights) if return_weights else None,
            cross_attentions=tuple(cross_weights) if return_weights else None,
        )


class PerceiverDecoder(nn.Module):
    """Cross-attends output queries to the latents, then applies the output adapter (if any).

    Build it from a spec, `PerceiverDecoder(output_adapter, spec=DecoderSpec(...))`, or with the flat options,
    `PerceiverDecoder(output_adapter, num_latent_channels, **options)` (`num_cross_attention_heads`,
    `num_cross_attention_qk_channels`, `cross_attention_residual`, ...: see `specs.decoder_spec`).

    Args:
        output_adapter: maps [B, O, F] to task outputs; None returns the decoder output itself.
        num_latent_channels: D, latent width (with the flat options).
        output_query_provider: the output queries; if None, a `TrainableQueryProvider` of
            `output_adapter.num_output_queries` x `output_adapter.num_output_query_channels` is created.
        spec: the whole decoder as a `DecoderSpec` (instead of the flat options).
    """

    def __init__(
        self,
        output_adapter: Optional[OutputAdapter],
        num_latent_channels: Optional[int] = None,
        output_query_provider: Optional[OutputQueryProvider] = None,
        *,
        spec: Optional[DecoderSpec] = None,
        **options: Any,
    ) -> None:
        super().__init__()
        spec = _spec_or_options(spec, options, lambda: decoder_spec(num_latent_channels, **options),
                                "PerceiverDecoder", num_latent_channels)
        if output_query_provider is None:
            if output_adapter is None or output_adapter.num_output_queries is None:
                raise ValueError(
                    "PerceiverDecoder needs output queries: pass output_query_provider=..., or an output adapter "
                    "that declares num_output_queries (e.g. TiedTextOutputAdapter(max_seq_len=...))."
                )
            output_query_provider = TrainableQueryProvider(
                output_adapter.num_output_queries, output_adapter.num_output_query_channels, spec.init_scale
            )
        self.spec = spec
        num_query_channels = output_query_provider.num_query_channels
        self.output_query_provider = output_query_provider
        # unset q/k width: the query width
        self.cross_attention = CrossAttentionLayer(
            spec.cross_attention, num_query_channels, spec.num_latent_channels, default_qk_channels=num_query_channels
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
        attention: Optional[AttentionFunction] = None,
    ) -> tuple[Any, Optional[torch.Tensor]]:
        """Decode latents [B, N, D].

        Args:
            query_positions: long [B, K], which output queries to decode (-1 = padding slot); default all.
            num_queries: decode the first `num_queries` queries (when `query_positions` is None).
            query_mask: bool [B, O or K], False for queries whose attention output must be 0 (DeepMind's query_mask).
            return_weights: also return the cross-attention probabilities.
            attention: the attention function, as in `PerceiverEncoder.forward`.

        Returns:
            (output adapter output, or the decoder output [B, O, F]; weights or None)
        """
        queries = self.output_query_provider(latents.shape[0], positions=query_positions, num_queries=num_queries)
        if query_positions is not None:
            valid = query_positions >= 0  # [B, K]
            query_mask = valid if query_mask is None else query_mask.bool() & valid
        elif query_mask is not None:
            query_mask = query_mask.bool()
        output, weights = self.cross_attention(queries, latents, None, query_mask, return_weights, attention)
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
        attention: Optional[AttentionFunction] = None,
    ) -> Any:
        latents = self.encoder(x, input_mask, attention=attention).last_hidden_state  # [B, N, D]
        output, _ = self.decoder(
            latents, query_positions=query_positions, num_queries=num_queries, query_mask=query_mask,
            attention=attention,
        )
        return output
