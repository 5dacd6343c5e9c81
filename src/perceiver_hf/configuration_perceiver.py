"""`PerceiverConfig`: one flat, documented configuration for Perceiver IO masked language models."""

from __future__ import annotations

from typing import Any, Optional

from transformers import PreTrainedConfig

from .config_validation import check_config_fields

# The MLP activations the core implements (`perceiver_hf.core.layers.ACTIVATIONS`; a test keeps the two equal).
# The config imports nothing from the package, so that the model code depends on it and never the reverse.
HIDDEN_ACTIVATIONS = ("gelu", "gelu_new", "gelu_pytorch_tanh", "gelu_tanh", "relu", "silu")


class PerceiverConfig(PreTrainedConfig):
    r"""Configuration of a Perceiver IO masked language model (`PerceiverModel`, `PerceiverForMaskedLM`).

    The defaults are DeepMind's byte-level model (`language_perceiver_io_bytes`, 201,108,230 parameters).
    Field names follow the perceiver-io library's options.

    Args:
        vocab_size (`int`, defaults to 262): number of token ids (262 for UTF-8 bytes + 6 special ids).
        max_seq_len (`int`, defaults to 2048): longest input; also the number of learned decoder queries.
        num_input_channels (`int`, defaults to 768): width C of the token embedding (and of the decoder queries).
        num_latents (`int`, defaults to 256): N, number of latent vectors.
        num_latent_channels (`int`, defaults to 1280): D, latent width.
        num_cross_attention_heads (`int`, defaults to 8): heads of the encoder cross-attention.
        num_cross_attention_qk_channels (`int`, *optional*, defaults to 256): q/k width of the encoder
            cross-attention (None: the input width C).
        num_cross_attention_v_channels (`int`, *optional*, defaults to 1280): value width of the encoder
            cross-attention (None: the q/k width).
        cross_attention_widening_factor (`int`, defaults to 1): MLP widening of the encoder cross-attention layer.
        cross_attention_residual (`bool`, defaults to `True`): add the latents back after the encoder cross-attention.
        num_self_attention_heads (`int`, defaults to 8): heads of each latent self-attention.
        num_self_attention_qk_channels (`int`, *optional*, defaults to 256): q/k width of self-attention (None: D).
        num_self_attention_v_channels (`int`, *optional*, defaults to 1280): value width of self-attention
            (None: the q/k width).
        num_self_attention_layers_per_block (`int`, defaults to 26): self-attention layers in the latent block.
        num_self_attention_blocks (`int`, defaults to 1): how often the block is applied (blocks share weights).
        self_attention_widening_factor (`int`, defaults to 1): MLP widening of the self-attention layers.
        decoder_num_cross_attention_heads (`int`, defaults to 8): heads of the decoder cross-attention.
        decoder_num_cross_attention_qk_channels (`int`, *optional*, defaults to 256): q/k width of the decoder
            cross-attention (None: C).
        decoder_num_cross_attention_v_channels (`int`, *optional*, defaults to 768): value width of the decoder
            cross-attention (None: the q/k width).
        decoder_cross_attention_widening_factor (`int`, defaults to 1): MLP widening of the decoder layer.
        decoder_cross_attention_residual (`bool`, defaults to `False`): add the decoder queries back after
            attention (DeepMind's MLM decoder does not).
        dropout (`float`, defaults to 0.0): dropout on attention probabilities and residual branches.
        hidden_act (`str`, defaults to `"gelu_pytorch_tanh"`): MLP activation; DeepMind uses the tanh-approximate
            GELU (`"gelu_pytorch_tanh"` = `"gelu_new"` = `"gelu_tanh"`); `"gelu"` is the exact erf GELU.
        layer_norm_eps (`float`, defaults to 1e-5): LayerNorm epsilon (Haiku's default).
        initializer_range (`float`, defaults to 0.02): std of the initialisation of embeddings, latents, position
            encodings and decoder queries. Linear weights use DeepMind's fan-in variance scaling
            (truncated normal, std 1/sqrt(fan_in)), whatever this value.
        tie_word_embeddings (`bool`, defaults to `True`): output logits use the input embedding matrix.
        classifier_num_queries (`int`, defaults to 1): learned queries of the sequence classification decoder
            (`PerceiverForSequenceClassification`; their logits are averaged).
        classifier_num_query_channels (`int`, *optional*): width of those queries (None: D, as transformers').
        classifier_num_cross_attention_heads (`int`, defaults to 1): heads of the classification decoder's
            cross-attention to the latents.
        classifier_num_cross_attention_qk_channels (`int`, *optional*): its q/k width (None: the query width).
        classifier_num_cross_attention_v_channels (`int`, *optional*): its value width (None: the q/k width).
        classifier_cross_attention_widening_factor (`int`, defaults to 1): MLP widening of that layer.
        classifier_cross_attention_residual (`bool`, defaults to `True`): add the queries back after attention.
        kwargs: passed to `PreTrainedConfig` (e.g. `pad_token_id`, `architectures`).
    """

    model_type = "perceiver_io"

    def __init__(
        self,
        vocab_size: int = 262,
        max_seq_len: int = 2048,
        num_input_channels: int = 768,
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
        decoder_num_cross_attention_heads: int = 8,
        decoder_num_cross_attention_qk_channels: Optional[int] = 256,
        decoder_num_cross_attention_v_channels: Optional[int] = 768,
        decoder_cross_attention_widening_factor: int = 1,
        decoder_cross_attention_residual: bool = False,
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
        self.decoder_num_cross_attention_heads = decoder_num_cross_attention_heads
        self.decoder_num_cross_attention_qk_channels = decoder_num_cross_attention_qk_channels
        self.decoder_num_cross_attention_v_channels = decoder_num_cross_attention_v_channels
        self.decoder_cross_attention_widening_factor = decoder_cross_attention_widening_factor
        self.decoder_cross_attention_residual = decoder_cross_attention_residual
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
