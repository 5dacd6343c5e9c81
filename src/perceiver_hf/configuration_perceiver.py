"""`PerceiverConfig`: one flat, documented configuration for Perceiver IO masked language models."""

from __future__ import annotations

from typing import Any, Optional

from transformers import PreTrainedConfig

from .config_fields import document_fields
from .config_validation import check_config_fields

# The MLP activations the core implements (`perceiver_hf.core.layers.ACTIVATIONS`; a test keeps the two equal).
# The config imports only its leaf modules (field table, checks), so the model code depends on it, never the reverse.
HIDDEN_ACTIVATIONS = ("gelu", "gelu_new", "gelu_pytorch_tanh", "gelu_tanh", "relu", "silu")


@document_fields
class PerceiverConfig(PreTrainedConfig):
    r"""Configuration of a Perceiver IO masked language model (`PerceiverModel`, `PerceiverForMaskedLM`).

    The defaults are DeepMind's byte-level model (`language_perceiver_io_bytes`, 201,108,230 parameters).
    Field names follow the perceiver-io library's options.

    Args:
        {fields}
        kwargs: passed to `PreTrainedConfig` (e.g. `bos_token_id`, `architectures`).

    The standard names generic tools read (transformers' `attribute_map`; reading and setting them reads and
    sets the Perceiver field):

    - `hidden_size` -> `num_latent_channels` (D): the width of the latents, which is what `hidden_states`
      (`output_hidden_states=True`) holds, [B, N, D] per layer. The per-token output of `PerceiverModel`
      (`last_hidden_state`, [B, K, C]) is `num_input_channels` wide.
    - `num_attention_heads` -> `num_self_attention_heads`: the heads of the latent self-attention layers.
    - `num_hidden_layers` -> `num_self_attention_layers_per_block`: self-attention layers in the latent block
      (the block is applied `num_self_attention_blocks` times, with shared weights unless
      `first_self_attention_block_shared` is False; 1 for DeepMind's models).
    - `max_position_embeddings` -> `max_seq_len`: the longest input (the tokenizer saved with a model carries
      it as `model_max_length`).
    """

    model_type = "perceiver_io"
    attribute_map = {
        "hidden_size": "num_latent_channels",
        "num_attention_heads": "num_self_attention_heads",
        "num_hidden_layers": "num_self_attention_layers_per_block",
        "max_position_embeddings": "max_seq_len",
    }

    def __init__(
        self,
        vocab_size: int = 262,
        max_seq_len: int = 2048,
        num_input_channels: int = 768,
        scale_input_embeddings: bool = False,
        num_latents: int = 256,
        num_latent_channels: int = 1280,
        num_cross_attention_heads: int = 8,
        num_cross_attention_qk_channels: Optional[int] = 256,
        num_cross_attention_v_channels: Optional[int] = 1280,
        cross_attention_widening_factor: int = 1,
        cross_attention_residual: bool = True,
        num_self_attention_heads: int = 8,
        num_self_attention_qk_channels: Optional[int] = 256,
        num_self_attention_v_channels: Optional[int] = 1280,
        num_self_attention_layers_per_block: int = 26,
        num_self_attention_blocks: int = 1,
        self_attention_widening_factor: int = 1,
        num_cross_attention_layers: int = 1,
        first_cross_attention_layer_shared: bool = False,
        first_self_attention_block_shared: bool = True,
        decoder_num_cross_attention_heads: int = 8,
        decoder_num_cross_attention_qk_channels: Optional[int] = 256,
        decoder_num_cross_attention_v_channels: Optional[int] = 768,
        decoder_cross_attention_widening_factor: int = 1,
        decoder_cross_attention_residual: bool = False,
        mask_padded_queries: bool = True,
        dropout: float = 0.0,
        hidden_act: str = "gelu_pytorch_tanh",
        layer_norm_eps: float = 1e-5,
        initializer_range: float = 0.02,
        tie_word_embeddings: bool = True,
        classifier_num_queries: int = 1,
        classifier_num_query_channels: Optional[int] = None,
        classifier_num_cross_attention_heads: int = 1,
        classifier_num_cross_attention_qk_channels: Optional[int] = None,
        classifier_num_cross_attention_v_channels: Optional[int] = None,
        classifier_cross_attention_widening_factor: int = 1,
        classifier_cross_attention_residual: bool = True,
        pad_token_id: Optional[int] = 0,
        **kwargs: Any,
    ) -> None:
        self.vocab_size = vocab_size
        self.max_seq_len = max_seq_len
        self.num_input_channels = num_input_channels
        self.scale_input_embeddings = scale_input_embeddings
        self.num_latents = num_latents
        self.num_latent_channels = num_latent_channels
        self.num_cross_attention_heads = num_cross_attention_heads
        self.num_cross_attention_qk_channels = num_cross_attention_qk_channels
        self.num_cross_attention_v_channels = num_cross_attention_v_channels
        self.cross_attention_widening_factor = cross_attention_widening_factor
        self.cross_attention_residual = cross_attention_residual
        self.num_self_attention_heads = num_self_attention_heads
        self.num_self_attention_qk_channels = num_self_attention_qk_channels
        self.num_self_attention_v_channels = num_self_attention_v_channels
        self.num_self_attention_layers_per_block = num_self_attention_layers_per_block
        self.num_self_attention_blocks = num_self_attention_blocks
        self.self_attention_widening_factor = self_attention_widening_factor
        self.num_cross_attention_layers = num_cross_attention_layers
        self.first_cross_attention_layer_shared = first_cross_attention_layer_shared
        self.first_self_attention_block_shared = first_self_attention_block_shared
        self.decoder_num_cross_attention_heads = decoder_num_cross_attention_heads
        self.decoder_num_cross_attention_qk_channels = decoder_num_cross_attention_qk_channels
        self.decoder_num_cross_attention_v_channels = decoder_num_cross_attention_v_channels
        self.decoder_cross_attention_widening_factor = decoder_cross_attention_widening_factor
        self.decoder_cross_attention_residual = decoder_cross_attention_residual
        self.mask_padded_queries = mask_padded_queries
        self.dropout = dropout
        self.hidden_act = hidden_act
        self.layer_norm_eps = layer_norm_eps
        self.initializer_range = initializer_range
        self.tie_word_embeddings = tie_word_embeddings
        self.classifier_num_queries = classifier_num_queries
        self.classifier_num_query_channels = classifier_num_query_channels
        self.classifier_num_cross_attention_heads = classifier_num_cross_attention_heads
        self.classifier_num_cross_attention_qk_channels = classifier_num_cross_attention_qk_channels
        self.classifier_num_cross_attention_v_channels = classifier_num_cross_attention_v_channels
        self.classifier_cross_attention_widening_factor = classifier_cross_attention_widening_factor
        self.classifier_cross_attention_residual = classifier_cross_attention_residual
        self._check()
        super().__init__(pad_token_id=pad_token_id, **kwargs)

    def _check(self) -> None:
        """Reject configurations that cannot build a model, with the fix in the message."""
        check_config_fields(self, HIDDEN_ACTIVATIONS)
        # (heads field, [(channels field, default width)])
        groups = [
            ("num_cross_attention_heads", ["num_cross_attention_qk_channels", "num_cross_attention_v_channels"],
             self.num_input_channels),
            ("num_self_attention_heads", ["num_self_attention_qk_channels", "num_self_attention_v_channels"],
             self.num_latent_channels),
            ("decoder_num_cross_attention_heads",
             ["decoder_num_cross_attention_qk_channels", "decoder_num_cross_attention_v_channels"],
             self.num_input_channels),
            ("classifier_num_cross_attention_heads",
             ["classifier_num_cross_attention_qk_channels", "classifier_num_cross_attention_v_channels"],
             self.classifier_num_query_channels or self.num_latent_channels),
        ]
        for heads_name, channel_names, default_width in groups:
            heads = getattr(self, heads_name)
            width = default_width
            for channel_name in channel_names:
                width = getattr(self, channel_name) or width
                if width % heads != 0:
                    raise ValueError(
                        f"PerceiverConfig.{channel_name} ({width}) is not divisible by {heads_name} ({heads}); "
                        f"use a multiple of {heads} or another number of heads."
                    )

    @classmethod
    def from_dict(cls, config_dict: dict[str, Any], **kwargs: Any) -> "PerceiverConfig":
        """`PreTrainedConfig.from_dict`, refusing a config of another model type (transformers only warns)."""
        found = config_dict.get("model_type")
        if found and found != cls.model_type:
            hint = (
                " It is transformers' own Perceiver: convert it with `perceiver-hf convert transformers SOURCE OUTPUT_DIR`."
                if found == "perceiver"
                else ""
            )
            raise ValueError(
                f"This config is for model type {found!r}, not {cls.model_type!r}; load it with AutoConfig or the "
                f"model's own config class.{hint}"
            )
        return super().from_dict(config_dict, **kwargs)

    @classmethod
    def language_perceiver(cls, **overrides: Any) -> "PerceiverConfig":
        """DeepMind's byte-level masked language model (vocab 262, 2048 bytes, 201,108,230 parameters)."""
        return cls(**overrides)

    @classmethod
    def perceiver_io_base(cls, vocab_size: int = 32000, max_seq_len: int = 512, **overrides: Any) -> "PerceiverConfig":
        """Perceiver IO Base (paper Table 11; SentencePiece 32,000 vocab, 512 tokens: 223,155,456 parameters)."""
        return cls(vocab_size=vocab_size, max_seq_len=max_seq_len, **overrides)


__all__ = ["PerceiverConfig"]
