"""The `PerceiverConfig` of a perceiver-io library text model, from its `TextEncoderConfig` / `TextDecoderConfig`
values (0.4: a Lightning checkpoint's `hyper_parameters` or the JSON given with a state dict; 0.9-0.11: config.json's
`model_config`; `perceiver_io_versions` holds what differs between them).

The library's semantics become ordinary config fields (docs/perceiver-io.md lists them):

    token embedding * sqrt(C) (0.4 only)           scale_input_embeddings=True
    MLP activation nn.GELU() (exact erf)           hidden_act="gelu"
    decoder cross-attention adds its query back    decoder_cross_attention_residual=True (0.9+: the config's)
    encoder cross-attention q/k width unset = D    num_cross_attention_qk_channels=D (DeepMind: C)
    padded positions' decoder queries decoded      mask_padded_queries=False

LayerNorm eps (1e-5), the q/k scaling 1/sqrt(q/k channels per head), pre-norm residual layers and dropout
placement are the same in both.
"""

from __future__ import annotations

from typing import Any, Mapping

from ..configuration_perceiver import PerceiverConfig
from .errors import ConversionError
from .library_fields import check_field_types
from .perceiver_io_versions import V0_4, LibraryVersion

ENCODER_DEFAULTS = V0_4.encoder
"""perceiver-io 0.4's `TextEncoderConfig` defaults (a JSON may leave fields out, as the library's CLI does)."""
DECODER_DEFAULTS = V0_4.decoder
"""perceiver-io 0.4's `TextDecoderConfig` defaults."""
MODEL_KEYS = V0_4.model_keys

_SHARED_FIELDS = {"dropout": "dropout", "initializer_range": "init_scale"}
ENCODER_FIELDS: dict[str, str] = {
    **{name: name for name in (
        "vocab_size", "max_seq_len", "num_input_channels", "num_cross_attention_heads", "cross_attention_widening_factor",
        "num_self_attention_heads", "num_self_attention_qk_channels", "num_self_attention_v_channels",
        "num_self_attention_layers_per_block", "num_self_attention_blocks", "self_attention_widening_factor",
        "num_cross_attention_layers", "first_cross_attention_layer_shared", "first_self_attention_block_shared",
    )},
    **_SHARED_FIELDS,
}  # fmt: skip
"""PerceiverConfig field <- TextEncoderConfig field, where the value carries over unchanged (both ways)."""
DECODER_FIELDS: dict[str, str] = {
    **{f"decoder_{name}": name for name in (
        "num_cross_attention_heads", "num_cross_attention_qk_channels", "num_cross_attention_v_channels",
        "cross_attention_widening_factor",
    )},
}  # fmt: skip
"""PerceiverConfig field <- TextDecoderConfig field (vocab_size, max_seq_len, dropout and init_scale must equal the
encoder's, and are checked)."""
LIBRARY_SEMANTICS = V0_4.semantics
"""The PerceiverConfig fields that make a perceiver-hf model compute what the library (0.4) computes."""


def complete(values: Any, defaults: Mapping[str, Any], what: str, version: LibraryVersion = V0_4) -> dict[str, Any]:
    """`values` with the left-out fields at their `defaults`; unknown fields (and, where `version` always writes
    every field, missing ones) refused in one line."""
    if not isinstance(values, Mapping):
        raise ConversionError(f"The {what} is a {type(values).__name__}, not a mapping of {version.name} fields.")
    unknown = sorted(set(values) - set(defaults), key=str)
    missing = sorted(set(defaults) - set(values)) if version.all_fields_required else []
    if unknown or missing:
        found = "; ".join(part for part in (f"unknown field(s) {unknown}" if unknown else "",
                                            f"no {missing}" if missing else "") if part)  # fmt: skip
        raise ConversionError(
            f"The {what} has {found}; this converter supports {version.name} text models, whose {what} has the "
            f"fields {sorted(defaults)}."
        )
    check_field_types(values, defaults, what)
    return {**defaults, **values}


MODEL_FIELD_KINDS = {"num_latents": 1, "num_latent_channels": 1, "activation_checkpointing": False,
                     "activation_offloading": False}
"""The model settings' own fields, each with a value of its kind (see `library_fields`)."""


def check_model_keys(hyper_parameters: Mapping[str, Any], version: LibraryVersion = V0_4) -> None:
    """Refuse model settings without the keys `version` has (or, where it always writes every key, with others),
    and model-level fields of the wrong type."""
    keys = set(hyper_parameters)
    missing, unknown = sorted(set(version.model_keys) - keys), sorted(keys - set(version.model_keys))
    if missing or (unknown and version.all_fields_required):
        raise ConversionError(
            f"The model settings have {sorted(keys, key=str)}; {version.name} model settings have "
            f"{list(version.model_keys)} (a Lightning checkpoint's hyper_parameters, the JSON given with a state "
            "dict, or config.json's model_config)."
        )
    check_field_types(hyper_parameters, MODEL_FIELD_KINDS, "model settings")


def encoder_fields(
    hyper_parameters: Mapping[str, Any], version: LibraryVersion = V0_4
) -> tuple[dict[str, Any], dict[str, Any]]:
    """(the `PerceiverConfig` fields of the library's text encoder and latents, its completed `TextEncoderConfig`
    values): shared by the masked LM and the text classifier, whose encoders are the same `TextEncoder`."""
    check_model_keys(hyper_parameters, version)
    encoder = complete(hyper_parameters["encoder"], version.encoder, "encoder config", version)
    latent_channels = hyper_parameters["num_latent_channels"]
    if not 1 <= encoder["num_cross_attention_layers"] <= encoder["num_self_attention_blocks"]:
        raise ConversionError(
            f"The encoder config has num_cross_attention_layers={encoder['num_cross_attention_layers']} and "
            f"num_self_attention_blocks={encoder['num_self_attention_blocks']}; the library (and perceiver-hf) needs "
            "1 <= num_cross_attention_layers <= num_self_attention_blocks."
        )
    cross_qk = encoder["num_cross_attention_qk_channels"] or latent_channels  # the library's unset width: the query's
    fields = dict(
        **{ours: encoder[theirs] for ours, theirs in ENCODER_FIELDS.items()},
        **version.semantics,
        num_latents=hyper_parameters["num_latents"],
        num_latent_channels=latent_channels,
        num_cross_attention_qk_channels=cross_qk,
        num_cross_attention_v_channels=encoder["num_cross_attention_v_channels"] or cross_qk,
        pad_token_id=None,
    )
    return fields, encoder


def check_same_dropout(encoder: Mapping[str, Any], decoder: Mapping[str, Any]) -> None:
    """Refuse an encoder and a decoder dropout that differ (`PerceiverConfig` has one dropout)."""
    if decoder["dropout"] != encoder["dropout"]:
        raise ConversionError(f"Encoder dropout {encoder['dropout']} and decoder dropout {decoder['dropout']} "
                              "differ; PerceiverConfig has one dropout. Set both to the same value in the JSON.")


def library_config(hyper_parameters: Mapping[str, Any], version: LibraryVersion = V0_4) -> PerceiverConfig:
    """The `PerceiverConfig` computing what the library's masked language model computes (0.4's `LanguageModel`,
    0.11's `MaskedLanguageModel`).

    Args:
        hyper_parameters: {"encoder": TextEncoderConfig fields, "decoder": TextDecoderConfig fields,
            "num_latents": N, "num_latent_channels": D} (dataclass fields as a mapping).
        version: the library version whose fields and semantics these are.
    """
    fields, encoder = encoder_fields(hyper_parameters, version)
    decoder = complete(hyper_parameters["decoder"], version.decoder, "decoder config", version)
    if decoder["vocab_size"] != encoder["vocab_size"]:
        raise ConversionError(f"Encoder and decoder vocab_size differ ({encoder['vocab_size']} vs "
                              f"{decoder['vocab_size']}); a masked LM needs one vocabulary.")
    if decoder["max_seq_len"] < encoder["max_seq_len"]:
        raise ConversionError(
            f"The decoder has {decoder['max_seq_len']} output queries but the encoder reads up to "
            f"{encoder['max_seq_len']} tokens; perceiver-hf decodes every input position, so it needs at least as "
            "many queries as positions."
        )
    query_channels = decoder["num_output_query_channels"] or encoder["num_input_channels"]
    if query_channels != encoder["num_input_channels"]:
        raise ConversionError(
            f"The decoder's num_output_query_channels ({query_channels}) differs from the encoder's "
            f"num_input_channels ({encoder['num_input_channels']}); perceiver-hf's decoder queries are as wide as "
            "the token embedding. Supported: num_output_query_channels None (tied) or equal to num_input_channels."
        )
    check_same_dropout(encoder, decoder)
    return PerceiverConfig(
        **{**fields, **decoder_residual(decoder, "decoder_cross_attention_residual")},
        **{ours: decoder[theirs] for ours, theirs in DECODER_FIELDS.items()},
        tie_word_embeddings=decoder["num_output_query_channels"] is None,
    )


def decoder_residual(decoder: Mapping[str, Any], field: str) -> dict[str, Any]:
    """{field: the decoder's query residual} where the version has the option (0.9+), else {} (0.4: always on)."""
    if "cross_attention_residual" not in decoder:
        return {}
    if not isinstance(decoder["cross_attention_residual"], bool):
        raise ConversionError(f"The decoder config's cross_attention_residual must be true or false, got "
                              f"{decoder['cross_attention_residual']!r}.")
    return {field: decoder["cross_attention_residual"]}


def library_hyper_parameters(config: PerceiverConfig) -> dict[str, Any]:
    """The library's {"encoder", "decoder", "num_latents", "num_latent_channels"} for `config` (the way back)."""
    differing = {name: getattr(config, name) for name, value in LIBRARY_SEMANTICS.items() if getattr(config, name) != value}
    if differing:
        raise ConversionError(
            f"Only a model with the perceiver-io library's semantics ({LIBRARY_SEMANTICS}) can be exported to it; "
            f"this one has {differing}, which the library cannot compute."
        )
    encoder = {theirs: getattr(config, ours) for ours, theirs in ENCODER_FIELDS.items()}
    encoder["num_cross_attention_qk_channels"] = config.num_cross_attention_qk_channels or config.num_input_channels
    encoder["num_cross_attention_v_channels"] = config.num_cross_attention_v_channels
    decoder = {theirs: getattr(config, ours) for ours, theirs in DECODER_FIELDS.items()}
    decoder.update({name: encoder[name] for name in ("vocab_size", "max_seq_len", *_SHARED_FIELDS.values())})
    decoder["num_output_query_channels"] = None if config.tie_word_embeddings else config.num_input_channels
    return {"encoder": encoder, "decoder": decoder, "num_latents": config.num_latents,
            "num_latent_channels": config.num_latent_channels}
