"""TEMPORARY: transformers' PerceiverForMaskedLM -> ours, until `perceiver_hf.convert.from_transformers` lands.

Delete this file and use the package converter as soon as it exists (see `models.convert_from_transformers`).
"""

from __future__ import annotations

import re

import torch
from transformers import PerceiverConfig as TransformersPerceiverConfig
from transformers import PerceiverForMaskedLM as TransformersPerceiverForMaskedLM

from perceiver_hf import PerceiverConfig, PerceiverForMaskedLM

# (transformers key regex, our key template)
_RENAMES = [
    (r"perceiver\.input_preprocessor\.embeddings\.weight", "perceiver.encoder.input_adapter.text_embedding.weight"),
    (r"perceiver\.input_preprocessor\.position_embeddings\.weight", "perceiver.encoder.input_adapter.pos_encoding"),
    (r"perceiver\.embeddings\.latents", "perceiver.encoder.latent_provider.query"),
    (r"perceiver\.decoder\.output_position_encodings\.position_embeddings", "perceiver.decoder.output_query_provider.query"),
    (r"embedding_decoder\.bias", "lm_head.bias"),
]
_LAYER_PREFIXES = [
    (r"perceiver\.encoder\.cross_attention\.", "perceiver.encoder.cross_attention.", "q_norm"),
    (r"perceiver\.encoder\.self_attends\.(\d+)\.", r"perceiver.encoder.self_attention.layers.\1.", "norm"),
    (r"perceiver\.decoder\.decoding_cross_attention\.", "perceiver.decoder.cross_attention.", "q_norm"),
]
_LAYER_PARTS = [
    (r"attention\.self\.layernorm2\.", "kv_norm."),
    (r"attention\.self\.query\.", "attention.q_proj."),
    (r"attention\.self\.key\.", "attention.k_proj."),
    (r"attention\.self\.value\.", "attention.v_proj."),
    (r"attention\.output\.dense\.", "attention.o_proj."),
    (r"layernorm\.", "mlp_norm."),
    (r"mlp\.dense1\.", "mlp.fc1."),
    (r"mlp\.dense2\.", "mlp.fc2."),
]


def _our_key(key: str) -> str:
    for pattern, target in _RENAMES:
        if re.fullmatch(pattern, key):
            return target
    for prefix, our_prefix, query_norm in _LAYER_PREFIXES:
        match = re.match(prefix, key)
        if match is None:
            continue
        rest = key[match.end():]
        new_prefix = match.expand(our_prefix)
        if rest.startswith("attention.self.layernorm1."):
            return new_prefix + query_norm + "." + rest[len("attention.self.layernorm1."):]
        for part, our_part in _LAYER_PARTS:
            part_match = re.match(part, rest)
            if part_match:
                return new_prefix + our_part + rest[part_match.end():]
    raise KeyError(f"no mapping for transformers key {key!r}")


def config_from_transformers(config: TransformersPerceiverConfig) -> PerceiverConfig:
    """Our config for transformers' text Perceiver (its decoder hard-codes 8 heads, q/k 256, v = d_model)."""
    return PerceiverConfig(
        vocab_size=config.vocab_size,
        max_seq_len=config.max_position_embeddings,
        num_input_channels=config.d_model,
        num_latents=config.num_latents,
        num_latent_channels=config.d_latents,
        num_cross_attention_heads=config.num_cross_attention_heads,
        num_cross_attention_qk_channels=config.qk_channels,
        num_cross_attention_v_channels=config.v_channels,
        cross_attention_widening_factor=config.cross_attention_widening_factor,
        cross_attention_residual=config.use_query_residual,
        num_self_attention_heads=config.num_self_attention_heads,
        num_self_attention_qk_channels=config.qk_channels,
        num_self_attention_v_channels=config.v_channels,
        num_self_attention_layers_per_block=config.num_self_attends_per_block,
        num_self_attention_blocks=config.num_blocks,
        self_attention_widening_factor=config.self_attention_widening_factor,
        decoder_num_cross_attention_heads=8,
        decoder_num_cross_attention_qk_channels=256,
        decoder_num_cross_attention_v_channels=config.d_model,
        decoder_cross_attention_widening_factor=1,
        decoder_cross_attention_residual=False,
        dropout=float(config.attention_probs_dropout_prob),
        hidden_act=config.hidden_act,
        layer_norm_eps=1e-5,  # transformers' Perceiver builds nn.LayerNorm(dim): eps 1e-5, whatever the config says
    )


def from_transformers(model: TransformersPerceiverForMaskedLM) -> PerceiverForMaskedLM:
    """Our `PerceiverForMaskedLM` holding `model`'s weights; every key and shape checked."""
    ours = PerceiverForMaskedLM(config_from_transformers(model.config))
    source = model.state_dict()
    state = {_our_key(key): value for key, value in source.items()}
    expected = {k for k in ours.state_dict() if k != "lm_head.weight"}
    if set(state) != expected:
        raise KeyError(f"key mismatch: missing {sorted(expected - set(state))}, extra {sorted(set(state) - expected)}")
    ours.load_state_dict(state, strict=False)
    return ours.eval()
