"""Where the perceiver-io library (0.9-0.11) keeps each part of its Hugging Face text models.

`PerceiverMaskedLanguageModel` / `PerceiverTextClassifier` hold the backend `PerceiverIO(encoder, decoder)` (an
`nn.Sequential`) as `backend_model`, so every key starts with "backend_model." (stripped before these rules):

    0.input_adapter.txt_embedding.weight [V, C]   0.input_adapter.pos_embedding.weight [M, C]
    0.latent_provider._query [N, D]
    0.cross_attn_1.{0.module: attention, 1.module: MLP}     the first encoder cross-attention (Residual-wrapped)
    0.self_attn_1.{i}.{0.module, 1.module}                  layer i of the first self-attention block
    0.cross_attn_n, 0.self_attn_n.{i}                       the later ones' own weights (only when unshared)
    1.output_query_provider._query [O, F]
    1.cross_attn.{0.module or 0, 1.module}                  decoder cross-attention (0, unwrapped, without
                                                            the query residual)
    1.output_adapter.bias (tied masked LM) | 1.output_adapter.linear.{weight, bias} (untied LM, classifier)

Unlike 0.4, a shared module is registered once. The attention and MLP insides are 0.4's (`perceiver_io_mapping`).
"""

from __future__ import annotations

from .mapping import SAME, CheckpointLayout, ModuleTable, Param
from .perceiver_io_mapping import CROSS_ATTENTION_LAYER, SELF_ATTENTION_LAYER

BACKEND_PREFIX = "backend_model."
EMBEDDING = "0.input_adapter.txt_embedding.weight"
OUTPUT_QUERY = "1.output_query_provider._query"


def _decoder_cross_attention(ours: str, residual: bool) -> ModuleTable:
    """The decoder cross-attention's arrays, placed at `ours`: without the query residual the library does not
    wrap the attention in `Residual`, so its arrays lack the ".module" step."""
    wrapped = {"0": "1.cross_attn.0.module" if residual else "1.cross_attn.0", "1": "1.cross_attn.1.module"}
    table: ModuleTable = {}
    for our_module, (their_module, params) in CROSS_ATTENTION_LAYER.items():
        part, _, inside = their_module.partition(".module.")  # "0" (attention) or "1" (MLP), then the inside
        table[f"{ours}.{our_module}"] = (f"{wrapped[part]}.{inside}", params)
    return table


def perceiver_io_hf_layout(classifier: bool, tied: bool, decoder_residual: bool) -> CheckpointLayout:
    """The layout of a 0.9-0.11 masked LM (`classifier` False; `tied`: a `TiedTokenOutputAdapter`, else a
    `TokenOutputAdapter`) or text classifier, keys without "backend_model."; `decoder_residual`: the decoder
    config's `cross_attention_residual`."""
    decoder = "classifier" if classifier else "perceiver.decoder"
    head: ModuleTable = (
        {"classifier.output_adapter.linear": ("1.output_adapter.linear", SAME)}
        if classifier
        else {"lm_head": ("1.output_adapter", (Param("bias", "bias"),)) if tied else ("1.output_adapter.linear", SAME)}
    )
    single: ModuleTable = {
        "perceiver.encoder.input_adapter.text_embedding": ("0.input_adapter.txt_embedding", (Param("weight", "weight"),)),
        "perceiver.encoder.input_adapter": ("0.input_adapter.pos_embedding", (Param("pos_encoding", "weight"),)),
        "perceiver.encoder.latent_provider": ("0.latent_provider", (Param("query", "_query"),)),
        f"{decoder}.output_query_provider": ("1.output_query_provider", (Param("query", "_query"),)),
        **head,
        **_decoder_cross_attention(f"{decoder}.cross_attention", decoder_residual),
    }
    return CheckpointLayout(
        separator=".",
        single_arrays=single,
        cross_attention_layers={"perceiver.encoder.cross_attention": "0.cross_attn_1"},
        cross_attention_layer=CROSS_ATTENTION_LAYER,
        self_attention_layer=SELF_ATTENTION_LAYER,
        self_attention_module=lambda index: f"0.self_attn_1.{index}",
        later_cross_attention="0.cross_attn_n",
        later_self_attention_module=lambda index: f"0.self_attn_n.{index}",
    )


__all__ = ["BACKEND_PREFIX", "EMBEDDING", "OUTPUT_QUERY", "perceiver_io_hf_layout"]
