"""Where each `PerceiverConfig` field becomes a module option (issue 25 item 6): `configuration_specs`' builders
(`encoder_spec`, `decoder_spec`, `classifier_spec`) and `model_parts` read every field by its name, so that a
search for the field leads there in one hop; each field reaches exactly the parts it describes."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from perceiver_hf.config_fields import field_names
from perceiver_hf.configuration_perceiver import PerceiverConfig
from perceiver_hf.configuration_specs import classifier_spec, decoder_spec, encoder_spec
from perceiver_hf.core.specs import encoder_spec as flat_encoder_spec
from perceiver_hf.training.presets import tiny

SOURCE = Path(__file__).resolve().parents[1] / "src" / "perceiver_hf"
ALL = {"encoder", "decoder", "classifier"}

# field -> (another valid value, the specs it must change); the base is `tiny(num_self_attention_blocks=2)`.
# The parts these fields size are not in a spec: the text adapters, the output queries and heads (`model_parts`,
# the model classes), the decoder's query mask (the forward), weight tying (transformers) and the padding id.
CHANGES = {
    "vocab_size": (300, set()),
    "max_seq_len": (64, set()),
    "num_input_channels": (32, set()),
    "scale_input_embeddings": (True, set()),
    "num_latents": (8, {"encoder"}),
    "num_latent_channels": (192, ALL),
    "num_cross_attention_heads": (2, {"encoder"}),
    "num_cross_attention_qk_channels": (16, {"encoder"}),
    "num_cross_attention_v_channels": (48, {"encoder"}),
    "cross_attention_widening_factor": (2, {"encoder"}),
    "cross_attention_residual": (False, {"encoder"}),
    "num_self_attention_heads": (2, {"encoder"}),
    "num_self_attention_qk_channels": (16, {"encoder"}),
    "num_self_attention_v_channels": (48, {"encoder"}),
    "num_self_attention_layers_per_block": (3, {"encoder"}),
    "num_self_attention_blocks": (3, {"encoder"}),
    "self_attention_widening_factor": (2, {"encoder"}),
    "num_cross_attention_layers": (2, {"encoder"}),
    "first_cross_attention_layer_shared": (True, {"encoder"}),
    "first_self_attention_block_shared": (False, {"encoder"}),
    "decoder_num_cross_attention_heads": (2, {"decoder"}),
    "decoder_num_cross_attention_qk_channels": (16, {"decoder"}),
    "decoder_num_cross_attention_v_channels": (32, {"decoder"}),
    "decoder_cross_attention_widening_factor": (2, {"decoder"}),
    "decoder_cross_attention_residual": (True, {"decoder"}),
    "mask_padded_queries": (False, set()),
    "dropout": (0.1, ALL),
    "hidden_act": ("relu", ALL),
    "layer_norm_eps": (1e-6, ALL),
    "initializer_range": (0.05, ALL),
    "tie_word_embeddings": (False, set()),
    "classifier_num_queries": (3, set()),
    "classifier_num_query_channels": (48, set()),
    "classifier_num_cross_attention_heads": (2, {"classifier"}),
    "classifier_num_cross_attention_qk_channels": (32, {"classifier"}),
    "classifier_num_cross_attention_v_channels": (48, {"classifier"}),
    "classifier_cross_attention_widening_factor": (2, {"classifier"}),
    "classifier_cross_attention_residual": (False, {"classifier"}),
    "pad_token_id": (5, set()),
}
# fields no builder reads, and who does
READ_ELSEWHERE = {
    "mask_padded_queries": "PerceiverModel.forward (the decoder's query mask)",
    "tie_word_embeddings": "transformers' weight tying",
    "pad_token_id": "the tokenizer and the collators",
}


def _specs(config: PerceiverConfig) -> dict[str, object]:
    return {"encoder": encoder_spec(config), "decoder": decoder_spec(config), "classifier": classifier_spec(config)}


def test_the_table_covers_every_declared_field() -> None:
    assert set(CHANGES) == set(field_names(PerceiverConfig))


@pytest.mark.parametrize("name", sorted(CHANGES))
def test_a_field_changes_exactly_the_specs_it_describes(name: str) -> None:
    base = tiny(num_self_attention_blocks=2)
    value, changed = CHANGES[name]
    assert getattr(base, name) != value
    other = tiny(**{"num_self_attention_blocks": 2, name: value})
    before, after = _specs(base), _specs(other)
    assert {part for part in ALL if before[part] != after[part]} == changed


def test_every_field_is_read_by_its_name_where_it_becomes_a_module_option() -> None:
    """One search for `config.<field>` finds the builder; no name is assembled from a template."""
    text = "\n".join((SOURCE / name).read_text(encoding="utf-8") for name in ("configuration_specs.py", "model_parts.py"))
    read = set(re.findall(r"config\.(\w+)", text))
    assert set(field_names(PerceiverConfig)) - read == set(READ_ELSEWHERE)
    assert "getattr(" not in text and "prefix" not in text


def test_the_config_builds_the_spec_the_flat_options_describe() -> None:
    """`encoder_spec(config)` and the perceiver-io library's flat options (`core.specs.encoder_spec`) agree."""
    config = tiny(num_self_attention_blocks=2, num_cross_attention_layers=2, dropout=0.1, hidden_act="relu")
    flat = flat_encoder_spec(
        config.num_latents, config.num_latent_channels,
        num_cross_attention_heads=4, num_cross_attention_qk_channels=32, num_cross_attention_v_channels=96,
        num_self_attention_heads=4, num_self_attention_qk_channels=32, num_self_attention_v_channels=96,
        num_self_attention_layers_per_block=2, num_self_attention_blocks=2, num_cross_attention_layers=2,
        dropout=0.1, activation="relu", layer_norm_eps=1e-5, init_scale=0.02,
    )  # fmt: skip
    assert encoder_spec(config) == flat


def test_an_unknown_flat_option_names_the_valid_ones() -> None:
    with pytest.raises(TypeError, match=r"encoder_spec got unknown option\(s\) \['residual'\]; the options are \["):
        flat_encoder_spec(4, 8, residual=True)
