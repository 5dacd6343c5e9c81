"""`PerceiverARConfig`: the perceiver-io library's Perceiver AR causal language model, as a transformers config.

Fields are the library's `CausalLanguageModelConfig` options under the library's names (so its folders convert
field by field), each declared once in the style of `PerceiverConfig` (`config_field`: default, value check, help).
"""

from typing import Any

from huggingface_hub.dataclasses import strict
from transformers import PreTrainedConfig

from .config_fields import config_field, document_fields
from .config_validation import (
    BOOL,
    OPTIONAL_INT,
    POSITIVE_INT,
    Check,
    field_error,
    fraction,
    one_line_errors,
    positive_number,
)

# No `from __future__ import annotations`: `@strict` checks values against the annotations, which must be types.

ROTARY_LAYERS = Check("-1 (every layer) or an integer >= 0", lambda value: type(value) is int and value >= -1)


@document_fields
@one_line_errors
@strict
class PerceiverARConfig(PreTrainedConfig):
    r"""Configuration of a Perceiver AR causal language model (`PerceiverARModel`, `PerceiverForCausalLM`).

    Perceiver AR (Hawthorne et al., 2022) embeds a sequence of up to `max_seq_len` tokens; its last positions
    (at most `max_latents`) are the latents, which cross-attend causally to the whole sequence (the earlier
    positions are the prefix), then run causal self-attention; the logits are predicted at the latent positions
    only. The defaults are the perceiver-io library's `CausalLanguageModelConfig`.

    Args:
        {fields}
        kwargs: passed to `PreTrainedConfig` (e.g. `bos_token_id`, `architectures`).

    Standard names generic tools read (`attribute_map`): `hidden_size` -> `num_channels`, `num_attention_heads`
    -> `num_heads`, `max_position_embeddings` -> `max_seq_len`, `initializer_range` -> `init_scale`;
    `num_hidden_layers` (read-only) is the number of attention layers, the prefix cross-attention plus the
    self-attention layers: the layers of a key/value cache.
    """

    model_type = "perceiver_ar"
    attribute_map = {
        "hidden_size": "num_channels",
        "num_attention_heads": "num_heads",
        "max_position_embeddings": "max_seq_len",
        "initializer_range": "init_scale",
    }

    vocab_size: int = config_field(262, POSITIVE_INT, "number of token ids (262 for UTF-8 bytes + 6 special ids).")
    max_seq_len: int = config_field(4096, POSITIVE_INT, "longest sequence, prefix and latents together.")
    max_latents: int = config_field(
        512, POSITIVE_INT, "most latent positions (the last positions of the sequence); at most max_seq_len."
    )
    num_channels: int = config_field(512, POSITIVE_INT, "width of the embeddings, latents and attention layers.")
    num_heads: int = config_field(8, POSITIVE_INT, "heads of the cross-attention and of each self-attention layer.")
    max_heads_parallel: int | None = config_field(
        None, OPTIONAL_INT,
        "the library's memory option (heads computed per chunk); kept for round trips, no effect here: attention "
        "runs through torch's scaled_dot_product_attention.",
    )
    num_self_attention_layers: int = config_field(8, POSITIVE_INT, "causal self-attention layers over the latents.")
    num_self_attention_rotary_layers: int = config_field(
        1, ROTARY_LAYERS,
        "how many of the first self-attention layers apply the rotary embedding (-1: all).",
    )
    self_attention_widening_factor: int = config_field(4, POSITIVE_INT, "MLP widening of the self-attention layers.")
    cross_attention_widening_factor: int = config_field(4, POSITIVE_INT, "MLP widening of the cross-attention layer.")
    cross_attention_dropout: int | float = config_field(
        0.5, fraction(),
        "share of the prefix positions dropped in training (each row keeps a random prefix_len - int(prefix_len * "
        "p) of them; the library's prefix dropout); none at inference.",
        fine_tuning=True,
    )
    post_attention_dropout: int | float = config_field(
        0.0, fraction(), "dropout on the attention probabilities.", fine_tuning=True
    )
    residual_dropout: int | float = config_field(0.0, fraction(), "dropout on the residual branches.", fine_tuning=True)
    output_norm: bool = config_field(False, BOOL, "a LayerNorm on the latents before the output projection.")
    output_bias: bool = config_field(True, BOOL, "the output projection (tied to the token embedding) has a bias.")
    abs_pos_emb: bool = config_field(
        True, BOOL,
        "add learned absolute position embeddings to the token embeddings (then the rotary embedding turns half "
        "of each head's channels, else all of them).",
    )
    init_scale: int | float = config_field(
        0.02, positive_number("default 0.02"), "std of the normal initialisation of linears and embeddings.",
        fine_tuning=True,
    )
    layer_norm_eps: int | float = config_field(
        1e-05, positive_number("the library: 1e-5"), "LayerNorm epsilon (torch's default, as the library).",
    )
    tie_word_embeddings: bool = config_field(True, BOOL, "output logits use the token embedding matrix (always).")
    pad_token_id: int | None = config_field(0, OPTIONAL_INT, "id of the padding token (the byte tokenizer's [PAD]).")
    bos_token_id: int | None = config_field(1, OPTIONAL_INT, "id of the beginning-of-sequence token ([BOS]).")
    eos_token_id: int | None = config_field(2, OPTIONAL_INT, "id of the end-of-sequence token ([EOS]).")
    is_decoder: bool = config_field(True, BOOL, "a causal decoder (always).")
    use_cache: bool = config_field(True, BOOL, "return a key/value cache from forward by default (generate uses one).")

    @property
    def num_hidden_layers(self) -> int:
        """Attention layers: the prefix cross-attention and the self-attention layers (one cache layer each)."""
        return 1 + self.num_self_attention_layers

    @property
    def head_channels(self) -> int:
        """Channels per head."""
        return self.num_channels // self.num_heads

    @property
    def rotated_channels(self) -> int:
        """Channels of each head the rotary embedding turns: half of them with absolute embeddings, else all."""
        return self.head_channels // 2 if self.abs_pos_emb else self.head_channels

    @property
    def max_prefix_len(self) -> int:
        """The longest prefix: max_seq_len - max_latents."""
        return self.max_seq_len - self.max_latents

    def validate_architecture(self) -> None:
        """Checks that involve several fields (each field's own type and range are checked when it is set)."""
        super().validate_architecture()
        name = type(self).__name__
        if self.max_latents > self.max_seq_len:
            raise field_error(name, "max_latents", self.max_latents, f"at most max_seq_len ({self.max_seq_len})")
        if self.num_channels % self.num_heads != 0:
            raise field_error(
                name, "num_channels", self.num_channels, f"a multiple of num_heads ({self.num_heads})"
            )
        if self.rotated_channels % 2 != 0 or self.rotated_channels == 0:
            raise field_error(
                name, "num_channels", self.num_channels,
                f"a width whose channels per head ({self.head_channels}) leave an even, non-zero number of rotated "
                f"channels ({self.rotated_channels}); with abs_pos_emb the head width must be a multiple of 4",
            )  # fmt: skip
        if self.num_self_attention_rotary_layers > self.num_self_attention_layers:
            raise field_error(
                name, "num_self_attention_rotary_layers", self.num_self_attention_rotary_layers,
                f"-1 or at most num_self_attention_layers ({self.num_self_attention_layers})",
            )  # fmt: skip

    @classmethod
    def from_dict(cls, config_dict: dict[str, Any], **kwargs: Any) -> "PerceiverARConfig":
        """`PreTrainedConfig.from_dict`, refusing a config of another model type (transformers only warns)."""
        found = config_dict.get("model_type")
        if found and found != cls.model_type:
            hint = (
                " It is a perceiver-io library folder: convert it with `perceiver-hf convert perceiver-io SOURCE OUTPUT_DIR`."
                if str(found).startswith("perceiver-ar")
                else ""
            )
            raise ValueError(
                f"This config is for model type {found!r}, not {cls.model_type!r}; load it with AutoConfig or the "
                f"model's own config class.{hint}"
            )
        return super().from_dict(config_dict, **kwargs)


__all__ = ["PerceiverARConfig"]
