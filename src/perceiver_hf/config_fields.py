"""What each `PerceiverConfig` field means: one table, rendered into the config's docstring and `train --help`.

`FIELD_HELP` holds the meaning of each `PerceiverConfig.__init__` argument; its type and default come from the
signature, so `document_fields` renders the docstring's Args section (Google style, as transformers' configs write it)
and the command line shows the same text. A test keeps the table and the signature in step.
"""

from __future__ import annotations

import inspect
import textwrap
from typing import Any, Callable

FIELD_HELP: dict[str, str] = {
    "vocab_size": 'number of token ids (262 for UTF-8 bytes + 6 special ids).',
    "max_seq_len": 'longest input; also the number of learned decoder queries.',
    "num_input_channels": 'width C of the token embedding (and of the decoder queries).',
    "scale_input_embeddings": "multiply the token embedding by sqrt(num_input_channels) before adding the position encoding (the perceiver-io library's `TextInputAdapter`; DeepMind's model does not).",
    "num_latents": 'N, number of latent vectors.',
    "num_latent_channels": 'D, latent width.',
    "num_cross_attention_heads": 'heads of the encoder cross-attention.',
    "num_cross_attention_qk_channels": 'q/k width of the encoder cross-attention (None: the input width C).',
    "num_cross_attention_v_channels": 'value width of the encoder cross-attention (None: the q/k width).',
    "cross_attention_widening_factor": 'MLP widening of the encoder cross-attention layer.',
    "cross_attention_residual": 'add the latents back after the encoder cross-attention.',
    "num_self_attention_heads": 'heads of each latent self-attention.',
    "num_self_attention_qk_channels": 'q/k width of self-attention (None: D).',
    "num_self_attention_v_channels": 'value width of self-attention (None: the q/k width).',
    "num_self_attention_layers_per_block": 'self-attention layers in the latent block.',
    "num_self_attention_blocks": 'how often the self-attention block is applied (see first_self_attention_block_shared).',
    "self_attention_widening_factor": 'MLP widening of the self-attention layers.',
    "num_cross_attention_layers": 'how many block applications start with a cross-attention to the input (1: only the first; at most num_self_attention_blocks; the perceiver-io library\'s option).',
    "first_cross_attention_layer_shared": 'the later cross-attentions reuse the first one\'s weights; false gives them (together) their own layer.',
    "first_self_attention_block_shared": 'the later block applications reuse the first block\'s weights; false gives them (together) their own block.',
    "decoder_num_cross_attention_heads": 'heads of the decoder cross-attention.',
    "decoder_num_cross_attention_qk_channels": 'q/k width of the decoder cross-attention (None: C).',
    "decoder_num_cross_attention_v_channels": 'value width of the decoder cross-attention (None: the q/k width).',
    "decoder_cross_attention_widening_factor": 'MLP widening of the decoder layer.',
    "decoder_cross_attention_residual": "add the decoder queries back after attention (DeepMind's MLM decoder does not).",
    "mask_padded_queries": "a padded position's decoder query gets attention output 0, as in DeepMind's model; False decodes padded positions like any other (the perceiver-io library). Valid positions are the same either way.",
    "dropout": 'dropout on attention probabilities and residual branches.',
    "hidden_act": 'MLP activation; DeepMind uses the tanh-approximate GELU (`"gelu_pytorch_tanh"` = `"gelu_new"` = `"gelu_tanh"`); `"gelu"` is the exact erf GELU.',
    "layer_norm_eps": "LayerNorm epsilon (Haiku's default).",
    "initializer_range": "std of the initialisation of embeddings, latents, position encodings and decoder queries. Linear weights use DeepMind's fan-in variance scaling (truncated normal, std 1/sqrt(fan_in)), whatever this value.",
    "tie_word_embeddings": 'output logits use the input embedding matrix.',
    "classifier_num_queries": "learned queries of the sequence classification decoder (`PerceiverForSequenceClassification`; their logits are averaged).",
    "classifier_num_query_channels": "width of those queries (None: D, as transformers').",
    "classifier_num_cross_attention_heads": "heads of the classification decoder's cross-attention to the latents.",
    "classifier_num_cross_attention_qk_channels": "its q/k width (None: the query width).",
    "classifier_num_cross_attention_v_channels": "its value width (None: the q/k width).",
    "classifier_cross_attention_widening_factor": "MLP widening of that layer.",
    "classifier_cross_attention_residual": "add the queries back after attention.",
    "pad_token_id": "id of the padding token (the byte tokenizer's [PAD] is 0).",
}
"""Field name -> what it means (the type and default are read from `PerceiverConfig.__init__`)."""

DOCSTRING_WIDTH = 120


def field_type(parameter: inspect.Parameter) -> tuple[str, bool]:
    """(type name, optional?) of a parameter annotated as a string, e.g. "Optional[int]" -> ("int", True)."""
    annotation = str(parameter.annotation)
    if annotation.startswith("Optional[") and annotation.endswith("]"):
        return annotation[len("Optional[") : -1], True
    return annotation, False


def _default_text(value: Any) -> str:
    return f"`{value!r}`".replace("'", '"') if isinstance(value, (str, bool)) or value is None else f"{value!r}"


def field_docs(init: Callable[..., Any], indent: int = 8) -> str:
    """The Args lines of every field of `init` that `FIELD_HELP` documents, wrapped at `DOCSTRING_WIDTH`."""
    lines = []
    for name, parameter in inspect.signature(init).parameters.items():
        if name not in FIELD_HELP:
            continue
        type_name, optional = field_type(parameter)
        kind = f"`{type_name}`, *optional*" if optional else f"`{type_name}`"
        entry = f"{name} ({kind}, defaults to {_default_text(parameter.default)}): {FIELD_HELP[name]}"
        lines += textwrap.wrap(
            entry, DOCSTRING_WIDTH, initial_indent=" " * indent, subsequent_indent=" " * (indent + 4),
            break_long_words=False, break_on_hyphens=False,
        )  # fmt: skip
    return "\n".join(lines)


def document_fields(cls: type) -> type:
    """Class decorator: replace the `{fields}` line of `cls.__doc__` with `field_docs(cls.__init__)`."""
    marker = " " * 8 + "{fields}"
    if cls.__doc__ is None or marker not in cls.__doc__:
        raise ValueError(f"{cls.__name__}'s docstring has no '{marker.strip()}' line for its field table")
    cls.__doc__ = cls.__doc__.replace(marker, field_docs(cls.__init__))
    return cls


__all__ = ["FIELD_HELP", "document_fields", "field_docs", "field_type"]
