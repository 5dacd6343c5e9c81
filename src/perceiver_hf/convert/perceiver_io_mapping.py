"""Where the perceiver-io library (0.4) keeps each part of its text masked language model.

A `LanguageModel` is `PerceiverIO(encoder, decoder)`, an `nn.Sequential`, so its state dict is numbered:

    0.input_adapter.text_embedding.weight [V, C]   0.input_adapter.pos_encoding [M, C]   0.latent [N, D]
    0.cross_attn_1.{0.module: attention, 1.module: MLP}        encoder cross-attention (Residual-wrapped)
    0.self_attn_1.{i}.{0.module, 1.module}                     self-attention layer i
    1.cross_attn.{0.module, 1.module}                          decoder cross-attention (also Residual-wrapped)
    1.output_adapter._output_query [O, C], .proj.{weight, bias} (tied) or .linear.{weight, bias} (untied)

    0.cross_attn_n, 0.self_attn_n.{i}                          the later cross-attentions / block applications

The library registers `cross_attn_n` and `self_attn_n` always: with `first_cross_attention_layer_shared` (or a
single cross-attention layer) `cross_attn_1` is `cross_attn_n`, with `first_self_attention_block_shared` (or a
single block) `self_attn_1` is `self_attn_n`, and the tied `proj.weight` is the embedding. `shared_copies` names
those second registrations, which must equal their original; unshared, `cross_attn_n` / `self_attn_n` are
perceiver-hf's `later_cross_attention` / `later_self_attention`. A Lightning checkpoint prefixes every key with
"model.".
"""

from __future__ import annotations

from typing import Any

from ..configuration_specs import encoder_spec
from .mapping import SAME, CheckpointLayout, ModuleTable, Param

LIGHTNING_PREFIX = "model."
EMBEDDING = "0.input_adapter.text_embedding.weight"
OUTPUT_QUERY = "1.output_adapter._output_query"

_MLP: ModuleTable = {
    "mlp_norm": ("1.module.0", SAME),
    "mlp.fc1": ("1.module.1", SAME),
    "mlp.fc2": ("1.module.3", SAME),
}
_PROJECTIONS: ModuleTable = {
    f"attention.{name}": (f"0.module.attention.{name}", SAME) for name in ("q_proj", "k_proj", "v_proj", "o_proj")
}
CROSS_ATTENTION_LAYER: ModuleTable = {
    "q_norm": ("0.module.q_norm", SAME), "kv_norm": ("0.module.kv_norm", SAME), **_PROJECTIONS, **_MLP
}
"""The inside of the library's (Residual-wrapped) cross-attention layer: attention "0.module", MLP "1.module"."""
SELF_ATTENTION_LAYER: ModuleTable = {"norm": ("0.module.norm", SAME), **_PROJECTIONS, **_MLP}
"""The inside of the library's self-attention layer."""


def perceiver_io_layout(tied: bool) -> CheckpointLayout:
    """The library's layout (keys without the Lightning prefix); `tied`: a `TiedTextOutputAdapter` (else the
    untied `TextOutputAdapter`, whose `linear` becomes our untied `lm_head`)."""
    head = "1.output_adapter.proj" if tied else "1.output_adapter.linear"
    single: ModuleTable = {
        "perceiver.encoder.input_adapter.text_embedding": (
            "0.input_adapter.text_embedding", (Param("weight", "weight"),)
        ),
        "perceiver.encoder.input_adapter": ("0.input_adapter", (Param("pos_encoding", "pos_encoding"),)),
        "perceiver.encoder.latent_provider": ("0", (Param("query", "latent"),)),
        "perceiver.decoder.output_query_provider": ("1.output_adapter", (Param("query", "_output_query"),)),
        "lm_head": (head, (Param("bias", "bias"),) if tied else SAME),
    }
    return CheckpointLayout(
        separator=".",
        single_arrays=single,
        cross_attention_layers={
            "perceiver.encoder.cross_attention": "0.cross_attn_1", "perceiver.decoder.cross_attention": "1.cross_attn"
        },
        cross_attention_layer=CROSS_ATTENTION_LAYER,
        self_attention_layer=SELF_ATTENTION_LAYER,
        self_attention_module=lambda index: f"0.self_attn_1.{index}",
        later_cross_attention="0.cross_attn_n",
        later_self_attention_module=lambda index: f"0.self_attn_n.{index}",
    )


def shared_copies(names: list[str], tied: bool, config: Any) -> dict[str, str]:
    """Copy key -> original key, for the library's second registrations of shared modules among `names` (those
    `config`, a `PerceiverConfig`, shares)."""
    spec = encoder_spec(config)
    shared = tuple(
        prefix for prefix, unshared in (("0.cross_attn_n.", spec.has_later_cross_attention),
                                        ("0.self_attn_n.", spec.has_later_self_attention)) if not unshared
    )  # fmt: skip
    copies = {
        name: name.replace("0.cross_attn_n.", "0.cross_attn_1.", 1).replace("0.self_attn_n.", "0.self_attn_1.", 1)
        for name in names
        if name.startswith(shared)
    }
    if tied and "1.output_adapter.proj.weight" in names:
        copies["1.output_adapter.proj.weight"] = EMBEDDING
    return copies
