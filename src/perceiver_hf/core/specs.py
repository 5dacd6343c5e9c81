"""Architecture specs: what each part of a Perceiver IO model is made of, with every default decided here.

    AttentionSpec   one attention layer (multi-head attention + MLP, pre-norm)
    EncoderSpec     latent array, input cross-attention, latent self-attention block
    DecoderSpec     output cross-attention to the latents

The specs are frozen dataclasses. The modules in `layers` and `modules` are built from them; the fronts that use
the perceiver-io library's flat option names (`PerceiverEncoder(...)` keyword options, the text configs) turn
them into specs with `encoder_spec` / `decoder_spec`, whose keyword parameters are those names, each passed to its
spec field by name. (`PerceiverConfig` has its own builders, `perceiver_hf.configuration_specs`.)
"""

from __future__ import annotations

import functools
import inspect
from dataclasses import dataclass
from typing import Any, Callable, Optional, TypeVar

DEFAULT_ACTIVATION = "gelu_tanh"  # DeepMind's jax.nn.gelu (tanh approximation)
DEFAULT_LAYER_NORM_EPS = 1e-5  # Haiku's LayerNorm default
DEFAULT_INIT_SCALE = 0.02  # std of learned arrays (latents, queries, position encodings)


def resolve_widths(num_qk_channels: Optional[int], num_v_channels: Optional[int], default_qk_channels: int) -> tuple[int, int]:
    """(q/k width, value width): an unset q/k width is `default_qk_channels`, an unset value width the q/k width."""
    qk = num_qk_channels or default_qk_channels
    return qk, num_v_channels or qk


@dataclass(frozen=True)
class AttentionSpec:
    """One pre-norm attention layer: multi-head attention, then an MLP, both with residuals.

    Attributes:
        num_heads: attention heads.
        num_qk_channels: total q/k width; None = the layer's default width (see `widths`).
        num_v_channels: total value width; None = the q/k width.
        widening_factor: MLP hidden width = widening_factor * residual width.
        residual: (cross-attention only) add the query input back after attention (DeepMind's
            `use_query_residual`); self-attention always has its residual.
        dropout: dropout on the attention probabilities and (unless `residual_dropout` is set) on both residual
            branches.
        residual_dropout: dropout on both residual branches; None = `dropout` (Perceiver AR sets them apart).
        activation: MLP activation name (see `layers.ACTIVATIONS`).
        layer_norm_eps: LayerNorm epsilon.
        qkv_bias: the q, k, v projections have biases (Perceiver AR: none).
        out_bias: the attention output projection has a bias (Perceiver AR's self-attention: none).
        mlp_bias: the MLP's two linears have biases (Perceiver AR: none).
    """

    num_heads: int = 4
    num_qk_channels: Optional[int] = None
    num_v_channels: Optional[int] = None
    widening_factor: int = 1
    residual: bool = True
    dropout: float = 0.0
    residual_dropout: Optional[float] = None
    activation: str = DEFAULT_ACTIVATION
    layer_norm_eps: float = DEFAULT_LAYER_NORM_EPS
    qkv_bias: bool = True
    out_bias: bool = True
    mlp_bias: bool = True

    def widths(self, default_qk_channels: int) -> tuple[int, int]:
        """(q/k width, value width), with `default_qk_channels` for an unset q/k width."""
        return resolve_widths(self.num_qk_channels, self.num_v_channels, default_qk_channels)


@dataclass(frozen=True)
class EncoderSpec:
    """A Perceiver encoder: N x D latents cross-attend to the input, then a self-attention block refines them.

    The encoder cross-attention's unset q/k width is the input (key/value) width, as in DeepMind's
    `CrossAttention`; self-attention's is the latent width D.

    Attributes:
        num_latents: N.
        num_latent_channels: D.
        cross_attention: the input cross-attention layer.
        self_attention: each latent self-attention layer.
        num_self_attention_layers_per_block: layers in the self-attention block.
        num_self_attention_blocks: how often the block is applied.
        num_cross_attention_layers: how many of the blocks are preceded by a cross-attention to the input (the
            first always is); at most `num_self_attention_blocks`.
        first_cross_attention_layer_shared: the first cross-attention shares its weights with the later ones;
            False gives the later ones (together) their own layer.
        first_self_attention_block_shared: the first block application shares its weights with the later ones;
            False gives the later applications (together) their own block.
        init_scale: std of the latent array's initialisation.

    With several blocks the encoder computes, as the perceiver-io library does (block i = 0, 1, ...):
    cross-attention (i < num_cross_attention_layers), then the self-attention block; application 0 uses the
    first weights, every later one the second set if unshared, else the first.
    """

    num_latents: int
    num_latent_channels: int
    cross_attention: AttentionSpec = AttentionSpec()
    self_attention: AttentionSpec = AttentionSpec()
    num_self_attention_layers_per_block: int = 6
    num_self_attention_blocks: int = 1
    num_cross_attention_layers: int = 1
    first_cross_attention_layer_shared: bool = False
    first_self_attention_block_shared: bool = True
    init_scale: float = DEFAULT_INIT_SCALE

    @property
    def has_later_cross_attention(self) -> bool:
        """Whether the 2nd..n-th cross-attentions have their own weights."""
        return self.num_cross_attention_layers > 1 and not self.first_cross_attention_layer_shared

    @property
    def has_later_self_attention(self) -> bool:
        """Whether the 2nd..n-th self-attention block applications have their own weights."""
        return self.num_self_attention_blocks > 1 and not self.first_self_attention_block_shared


@dataclass(frozen=True)
class DecoderSpec:
    """A Perceiver decoder: output queries cross-attend to the latents (no query residual by default, as in
    DeepMind's masked-LM decoder). The cross-attention's unset q/k width is the query width.

    Attributes:
        num_latent_channels: D, width of the latents attended to.
        cross_attention: the output cross-attention layer.
        init_scale: std of the learned output queries' initialisation (when the decoder creates them).
    """

    num_latent_channels: int
    cross_attention: AttentionSpec = AttentionSpec(residual=False)
    init_scale: float = DEFAULT_INIT_SCALE


F = TypeVar("F", bound=Callable[..., Any])


def _refusing_unknown_options(builder: F) -> F:
    """`builder` (`encoder_spec` / `decoder_spec`), refusing keyword options it does not take with a `TypeError`
    that names them and the valid ones (Python's own message lists none)."""
    names = sorted(p.name for p in inspect.signature(builder).parameters.values() if p.kind is p.KEYWORD_ONLY)

    @functools.wraps(builder)
    def checked(*args: Any, **options: Any) -> Any:
        unknown = sorted(set(options) - set(names))
        if unknown:
            raise TypeError(f"{builder.__name__} got unknown option(s) {unknown}; the options are {names}.")
        return builder(*args, **options)

    return checked  # type: ignore[return-value]


# the specs' defaults, which unset flat options keep
_CROSS = EncoderSpec.cross_attention
_SELF = EncoderSpec.self_attention
_DECODER_CROSS = DecoderSpec.cross_attention


@_refusing_unknown_options
def encoder_spec(
    num_latents: int,
    num_latent_channels: int,
    *,
    num_cross_attention_heads: int = _CROSS.num_heads,
    num_cross_attention_qk_channels: Optional[int] = _CROSS.num_qk_channels,
    num_cross_attention_v_channels: Optional[int] = _CROSS.num_v_channels,
    cross_attention_widening_factor: int = _CROSS.widening_factor,
    cross_attention_residual: bool = _CROSS.residual,
    num_self_attention_heads: int = _SELF.num_heads,
    num_self_attention_qk_channels: Optional[int] = _SELF.num_qk_channels,
    num_self_attention_v_channels: Optional[int] = _SELF.num_v_channels,
    self_attention_widening_factor: int = _SELF.widening_factor,
    num_self_attention_layers_per_block: int = EncoderSpec.num_self_attention_layers_per_block,
    num_self_attention_blocks: int = EncoderSpec.num_self_attention_blocks,
    num_cross_attention_layers: int = EncoderSpec.num_cross_attention_layers,
    first_cross_attention_layer_shared: bool = EncoderSpec.first_cross_attention_layer_shared,
    first_self_attention_block_shared: bool = EncoderSpec.first_self_attention_block_shared,
    dropout: float = _SELF.dropout,
    activation: str = _SELF.activation,
    layer_norm_eps: float = _SELF.layer_norm_eps,
    init_scale: float = EncoderSpec.init_scale,
) -> EncoderSpec:
    """An `EncoderSpec` from the perceiver-io library's flat encoder options (`dropout`, `activation` and
    `layer_norm_eps` apply to every layer); the defaults are the specs' own."""
    shared = {"dropout": dropout, "activation": activation, "layer_norm_eps": layer_norm_eps}
    return EncoderSpec(
        num_latents=num_latents,
        num_latent_channels=num_latent_channels,
        cross_attention=AttentionSpec(
            num_heads=num_cross_attention_heads,
            num_qk_channels=num_cross_attention_qk_channels,
            num_v_channels=num_cross_attention_v_channels,
            widening_factor=cross_attention_widening_factor,
            residual=cross_attention_residual,
            **shared,
        ),
        self_attention=AttentionSpec(
            num_heads=num_self_attention_heads,
            num_qk_channels=num_self_attention_qk_channels,
            num_v_channels=num_self_attention_v_channels,
            widening_factor=self_attention_widening_factor,
            **shared,
        ),
        num_self_attention_layers_per_block=num_self_attention_layers_per_block,
        num_self_attention_blocks=num_self_attention_blocks,
        num_cross_attention_layers=num_cross_attention_layers,
        first_cross_attention_layer_shared=first_cross_attention_layer_shared,
        first_self_attention_block_shared=first_self_attention_block_shared,
        init_scale=init_scale,
    )


@_refusing_unknown_options
def decoder_spec(
    num_latent_channels: int,
    *,
    num_cross_attention_heads: int = _DECODER_CROSS.num_heads,
    num_cross_attention_qk_channels: Optional[int] = _DECODER_CROSS.num_qk_channels,
    num_cross_attention_v_channels: Optional[int] = _DECODER_CROSS.num_v_channels,
    cross_attention_widening_factor: int = _DECODER_CROSS.widening_factor,
    cross_attention_residual: bool = _DECODER_CROSS.residual,
    dropout: float = _DECODER_CROSS.dropout,
    activation: str = _DECODER_CROSS.activation,
    layer_norm_eps: float = _DECODER_CROSS.layer_norm_eps,
    init_scale: float = DecoderSpec.init_scale,
) -> DecoderSpec:
    """A `DecoderSpec` from the perceiver-io library's flat decoder options; the defaults are the specs' own
    (no query residual)."""
    return DecoderSpec(
        num_latent_channels=num_latent_channels,
        cross_attention=AttentionSpec(
            num_heads=num_cross_attention_heads,
            num_qk_channels=num_cross_attention_qk_channels,
            num_v_channels=num_cross_attention_v_channels,
            widening_factor=cross_attention_widening_factor,
            residual=cross_attention_residual,
            dropout=dropout,
            activation=activation,
            layer_norm_eps=layer_norm_eps,
        ),
        init_scale=init_scale,
    )


def flat_option_names(part: str) -> tuple[str, ...]:
    """The flat option names `encoder_spec` ("encoder") or `decoder_spec` ("decoder") accept (their keyword-only
    parameters)."""
    builders = {"encoder": encoder_spec, "decoder": decoder_spec}
    if part not in builders:
        raise ValueError(f"part must be 'encoder' or 'decoder', got {part!r}.")
    parameters = inspect.signature(builders[part]).parameters.values()
    return tuple(p.name for p in parameters if p.kind is inspect.Parameter.KEYWORD_ONLY)
