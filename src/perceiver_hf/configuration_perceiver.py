"""`PerceiverConfig`: one flat, documented configuration for Perceiver IO masked language models.

Each field is declared once, below, as transformers 5's configs declare theirs (`LlamaConfig`): an annotated class
attribute whose `config_field(default, check, help)` carries its value check and help text. `@strict`
(huggingface_hub) runs the type and value checks on every assignment, and `validate_architecture` the checks that
involve several fields; the docstring, `perceiver-hf train`'s flags, `--config_overrides` and the fine-tuning field
list are read from these declarations (`config_fields`). Where each field becomes a module option, named once:
`configuration_specs` (the encoder, decoder and classifier specs) and `model_parts` (the text adapters and the
output queries).
"""

from typing import Any, Optional

from huggingface_hub.dataclasses import strict
from transformers import PreTrainedConfig

from .config_fields import config_field, document_fields
from .config_validation import (
    BOOL,
    OPTIONAL_INT,
    OPTIONAL_WIDTH,
    POSITIVE_INT,
    field_error,
    fraction,
    one_line_errors,
    one_of,
    positive_number,
)

# No `from __future__ import annotations` here: `@strict` checks values against the annotations, which must be types.

# The MLP activations the core implements (`perceiver_hf.core.layers.ACTIVATIONS`; a test keeps the two equal).
# The config imports only its leaf modules (field declaration, checks), so the model code depends on it, never the
# reverse.
HIDDEN_ACTIVATIONS = ("gelu", "gelu_new", "gelu_pytorch_tanh", "gelu_tanh", "relu", "silu")

MAX_NUM_LABELS = 1_000_000
"""The most classes a config may declare: transformers names every one (LABEL_i) when the config is made, before
any weight is read, so a config.json saying 10**9 would allocate gigabytes."""


@document_fields
@one_line_errors
@strict
class PerceiverConfig(PreTrainedConfig):
    r"""Configuration of a Perceiver IO masked language model (`PerceiverModel`, `PerceiverForMaskedLM`).

    The defaults are DeepMind's byte-level model (`language_perceiver_io_bytes`, 201,108,230 parameters).
    Field names follow the perceiver-io library's options. A value of the wrong type or range raises a
    `ValueError` naming the field when the config is made or the field is set; widths that the heads do not
    divide, when the config is made (or by `config.validate()`).

    Args:
        {fields}
        kwargs: passed to `PreTrainedConfig` (e.g. `bos_token_id`, `architectures`).

    The standard names generic tools read (transformers' `attribute_map`; reading and setting them reads and
    sets the Perceiver field):

    - `hidden_size` -> `num_input_channels` (C): the width of `PerceiverModel`'s per-position output
      (`last_hidden_state`, [B, K, C]) and of the token embedding, what feature-extraction tools size their
      layers from. The latents are `num_latent_channels` (D) wide; `hidden_states` (`output_hidden_states=True`)
      holds them, [B, N, D] per layer.
    - `num_attention_heads` -> `num_self_attention_heads`: the heads of the latent self-attention layers.
    - `num_hidden_layers` -> `num_self_attention_layers_per_block`: self-attention layers in the latent block
      (the block is applied `num_self_attention_blocks` times, with shared weights unless
      `first_self_attention_block_shared` is False; 1 for DeepMind's models).
    - `max_position_embeddings` -> `max_seq_len`: the longest input (the tokenizer saved with a model carries
      it as `model_max_length`).
    """

    model_type = "perceiver_io"
    attribute_map = {
        "hidden_size": "num_input_channels",
        "num_attention_heads": "num_self_attention_heads",
        "num_hidden_layers": "num_self_attention_layers_per_block",
        "max_position_embeddings": "max_seq_len",
    }

    vocab_size: int = config_field(262, POSITIVE_INT, "number of token ids (262 for UTF-8 bytes + 6 special ids).")
    max_seq_len: int = config_field(2048, POSITIVE_INT, "longest input; also the number of learned decoder queries.")
    num_input_channels: int = config_field(
        768, POSITIVE_INT,
        "width C of the token embedding (and of the decoder queries).",
    )
    scale_input_embeddings: bool = config_field(
        False, BOOL,
        "multiply the token embedding by sqrt(num_input_channels) before adding the position encoding (the "
        "perceiver-io library's `TextInputAdapter`; DeepMind's model does not).",
    )
    num_latents: int = config_field(256, POSITIVE_INT, "N, number of latent vectors.")
    num_latent_channels: int = config_field(1280, POSITIVE_INT, "D, latent width.")
    num_cross_attention_heads: int = config_field(8, POSITIVE_INT, "heads of the encoder cross-attention.")
    num_cross_attention_qk_channels: int | None = config_field(
        256, OPTIONAL_WIDTH,
        "q/k width of the encoder cross-attention (None: the input width C).",
    )
    num_cross_attention_v_channels: int | None = config_field(
        1280, OPTIONAL_WIDTH,
        "value width of the encoder cross-attention (None: the q/k width).",
    )
    cross_attention_widening_factor: int = config_field(
        1, POSITIVE_INT,
        "MLP widening of the encoder cross-attention layer.",
    )
    cross_attention_residual: bool = config_field(True, BOOL, "add the latents back after the encoder cross-attention.")
    num_self_attention_heads: int = config_field(8, POSITIVE_INT, "heads of each latent self-attention.")
    num_self_attention_qk_channels: int | None = config_field(
        256, OPTIONAL_WIDTH,
        "q/k width of self-attention (None: D).",
    )
    num_self_attention_v_channels: int | None = config_field(
        1280, OPTIONAL_WIDTH,
        "value width of self-attention (None: the q/k width).",
    )
    num_self_attention_layers_per_block: int = config_field(
        26, POSITIVE_INT,
        "self-attention layers in the latent block.",
    )
    num_self_attention_blocks: int = config_field(
        1, POSITIVE_INT,
        "how often the self-attention block is applied (see first_self_attention_block_shared).",
    )
    self_attention_widening_factor: int = config_field(1, POSITIVE_INT, "MLP widening of the self-attention layers.")
    num_cross_attention_layers: int = config_field(
        1, POSITIVE_INT,
        "how many block applications start with a cross-attention to the input (1: only the first; at most "
        "num_self_attention_blocks; the perceiver-io library's option).",
    )
    first_cross_attention_layer_shared: bool = config_field(
        False, BOOL,
        "the later cross-attentions reuse the first one's weights; false gives them (together) their own layer.",
    )
    first_self_attention_block_shared: bool = config_field(
        True, BOOL,
        "the later block applications reuse the first block's weights; false gives them (together) their own block.",
    )
    decoder_num_cross_attention_heads: int = config_field(8, POSITIVE_INT, "heads of the decoder cross-attention.")
    decoder_num_cross_attention_qk_channels: int | None = config_field(
        256, OPTIONAL_WIDTH,
        "q/k width of the decoder cross-attention (None: C).",
    )
    decoder_num_cross_attention_v_channels: int | None = config_field(
        768, OPTIONAL_WIDTH,
        "value width of the decoder cross-attention (None: the q/k width).",
    )
    decoder_cross_attention_widening_factor: int = config_field(1, POSITIVE_INT, "MLP widening of the decoder layer.")
    decoder_cross_attention_residual: bool = config_field(
        False, BOOL,
        "add the decoder queries back after attention (DeepMind's MLM decoder does not).",
    )
    mask_padded_queries: bool = config_field(
        True, BOOL,
        "a padded position's decoder query gets attention output 0, as in DeepMind's model; False decodes padded "
        "positions like any other (the perceiver-io library). Valid positions are the same either way.",
    )
    dropout: int | float = config_field(
        0.0, fraction(),
        "dropout on attention probabilities and residual branches.",
        fine_tuning=True,
    )
    hidden_act: str = config_field(
        "gelu_pytorch_tanh", one_of(HIDDEN_ACTIVATIONS),
        'MLP activation; DeepMind uses the tanh-approximate GELU (`"gelu_pytorch_tanh"` = `"gelu_new"` = '
        '`"gelu_tanh"`); `"gelu"` is the exact erf GELU.',
        fine_tuning=True,
    )
    layer_norm_eps: int | float = config_field(
        1e-05, positive_number("DeepMind: 1e-5"),
        "LayerNorm epsilon (Haiku's default).",
        fine_tuning=True,
    )
    initializer_range: int | float = config_field(
        0.02, positive_number("default 0.02"),
        "std of the initialisation of embeddings, latents, position encodings and decoder queries. Linear weights use "
        "DeepMind's fan-in variance scaling (truncated normal, std 1/sqrt(fan_in)), whatever this value.",
        fine_tuning=True,
    )
    tie_word_embeddings: bool = config_field(True, BOOL, "output logits use the input embedding matrix.")
    classifier_num_queries: int = config_field(
        1, POSITIVE_INT,
        "learned queries of the sequence classification decoder (`PerceiverForSequenceClassification`; their logits "
        "are averaged).",
        fine_tuning=True,
    )
    classifier_num_query_channels: int | None = config_field(
        None, OPTIONAL_WIDTH,
        "width of those queries (None: D, as transformers').",
        fine_tuning=True,
    )
    classifier_num_cross_attention_heads: int = config_field(
        1, POSITIVE_INT,
        "heads of the classification decoder's cross-attention to the latents.",
        fine_tuning=True,
    )
    classifier_num_cross_attention_qk_channels: int | None = config_field(
        None, OPTIONAL_WIDTH,
        "its q/k width (None: the query width).",
        fine_tuning=True,
    )
    classifier_num_cross_attention_v_channels: int | None = config_field(
        None, OPTIONAL_WIDTH,
        "its value width (None: the q/k width).",
        fine_tuning=True,
    )
    classifier_cross_attention_widening_factor: int = config_field(
        1, POSITIVE_INT,
        "MLP widening of that layer.",
        fine_tuning=True,
    )
    classifier_cross_attention_residual: bool = config_field(
        True, BOOL,
        "add the queries back after attention.",
        fine_tuning=True,
    )

    pad_token_id: int | None = config_field(
        0, OPTIONAL_INT,
        "id of the padding token (the byte tokenizer's [PAD] is 0).",
    )

    @property
    def num_labels(self) -> Optional[int]:
        """The number of classes of a classification head (`len(id2label)`), as transformers defines it (read
        directly, not through the parent's property, so that compiled forwards trace it)."""
        return len(self.id2label) if self.id2label is not None else None

    @num_labels.setter
    def num_labels(self, num_labels: int) -> None:
        # transformers makes a LABEL_i name for each class: bound the count before anything is allocated
        if isinstance(num_labels, bool) or not isinstance(num_labels, int) or not 0 < num_labels <= MAX_NUM_LABELS:
            raise field_error(
                type(self).__name__, "num_labels", num_labels, f"an integer from 1 to {MAX_NUM_LABELS:,} classes"
            )
        PreTrainedConfig.num_labels.fset(self, num_labels)

    def validate_architecture(self) -> None:
        """Part of `@strict`'s validation: the checks that involve several fields (each field's own type and
        range are checked when it is set). Raises `ValueError` with the fix."""
        super().validate_architecture()
        if self.num_cross_attention_layers > self.num_self_attention_blocks:
            raise field_error(
                type(self).__name__, "num_cross_attention_layers", self.num_cross_attention_layers,
                f"at most num_self_attention_blocks ({self.num_self_attention_blocks}): each cross-attention "
                "precedes a block application",
            )  # fmt: skip
        # (heads field, its channel fields in order, the width an unset first channel field takes)
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
        ]  # fmt: skip
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
