"""The Haiku -> perceiver-hf mapping table, config inference and --config-overrides.

References: tests/fixtures/language-perceiver-param-spec.json (the real checkpoint's 457 arrays and DeepMind's
configuration, computed from DeepMind's code) and haiku-tiny's manifest.
"""

from __future__ import annotations

import json
import math
import pickle
import re
from pathlib import Path
from typing import Any

import pytest
from helpers.conversion import TINY_HEADS, write_pickle

from perceiver_hf.convert import MappingError, convert_haiku_checkpoint, infer_haiku_config, parse_config_overrides
from perceiver_hf.convert.haiku_mapping import HAIKU_LAYOUT
from perceiver_hf.convert.mapping import check_rules
from perceiver_hf.convert.target_model import expected_parameter_shapes


@pytest.fixture(scope="module")
def spec(haiku_tiny_dir: Path) -> dict:
    return json.loads((haiku_tiny_dir.parent / "language-perceiver-param-spec.json").read_text())


def test_mapping_covers_the_real_checkpoint_exactly(spec: dict) -> None:
    shapes = {p["path"]: tuple(p["shape"]) for p in spec["parameters"]}
    assert len(shapes) == spec["num_arrays"] == 457
    config = infer_haiku_config(shapes)
    targets = expected_parameter_shapes(config)  # meta-device PerceiverForMaskedLM, tied output matrix excluded
    rules = HAIKU_LAYOUT.rules(config.num_self_attention_layers_per_block)
    assert sorted(rule.source for rule in rules) == sorted(shapes)  # every Haiku array used exactly once
    assert sorted(rule.target for rule in rules) == sorted(targets)  # every model parameter filled once
    check_rules(rules, shapes, targets, "param spec")  # shapes (Linear w transposed) agree
    assert sum(math.prod(shape) for shape in targets.values()) == spec["total_parameters"] == 201_108_230


def test_inferred_config_is_deepminds(spec: dict) -> None:
    config = infer_haiku_config({p["path"]: tuple(p["shape"]) for p in spec["parameters"]})
    deepmind, encoder, decoder = spec["config"], spec["config"]["encoder_config"], spec["config"]["decoder_config"]
    assert (config.vocab_size, config.max_seq_len) == (deepmind["VOCAB_SIZE"], deepmind["MAX_SEQ_LEN"])
    assert (config.num_input_channels, config.num_latent_channels) == (deepmind["D_MODEL"], deepmind["D_LATENTS"])
    assert config.num_latents == encoder["z_index_dim"]
    assert config.num_self_attention_layers_per_block == encoder["num_self_attends_per_block"]
    assert config.num_self_attention_blocks == encoder["num_blocks"]
    assert (config.num_cross_attention_heads, config.num_self_attention_heads) == (
        encoder["num_cross_attend_heads"], encoder["num_self_attend_heads"]
    )
    assert config.decoder_num_cross_attention_heads == decoder["num_heads"]
    assert (config.num_self_attention_qk_channels, config.num_self_attention_v_channels) == (
        encoder["qk_channels"], encoder["v_channels"]
    )
    assert (config.decoder_num_cross_attention_qk_channels, config.decoder_num_cross_attention_v_channels) == (
        decoder["qk_channels"], decoder["v_channels"]
    )
    assert (config.cross_attention_widening_factor, config.self_attention_widening_factor) == (
        encoder["cross_attend_widening_factor"], encoder["self_attend_widening_factor"]
    )


@pytest.fixture
def tiny_params(haiku_tiny_dir: Path) -> dict:
    with open(haiku_tiny_dir / "params.pickle", "rb") as file:
        return pickle.load(file)


def _convert(tmp_path: Path, params: dict, **overrides: Any) -> Path:
    path = write_pickle(tmp_path / "edited.pickle", params)
    overrides = {**TINY_HEADS, **overrides}
    return convert_haiku_checkpoint(path, tmp_path / "out", config_overrides=overrides, progress=False)


def test_missing_unexpected_and_misshaped_arrays_are_listed_together(tiny_params: dict, tmp_path: Path) -> None:
    del tiny_params["embedding_decoder"]["bias"]
    tiny_params["perceiver_encoder/~/self_attention_1/attention"] = {"extra": tiny_params["embed"]["embeddings"]}
    mlp = tiny_params["basic_decoder/cross_attention/mlp/linear"]
    mlp["w"] = mlp["w"][:, :60]  # [64, 64] -> [64, 60]
    query = tiny_params["perceiver_encoder/~/cross_attention/attention/linear"]
    query["b"] = query["b"][:31]  # [32] -> [31]
    with pytest.raises(MappingError) as error:
        _convert(tmp_path, tiny_params)
    message = str(error.value)
    missing = "lm_head.bias <- embedding_decoder/bias"
    unexpected = "perceiver_encoder/~/self_attention_1/attention/extra"
    assert f"missing: model parameters without a source array (1):\n    {missing}\n" in message
    assert f"unexpected: source arrays nothing uses (1):\n    {unexpected} [262, 64]\n" in message
    assert "mis-shaped: model shape <- source shape (2):" in message
    assert "perceiver.encoder.cross_attention.attention.q_proj.bias [32] <- " in message
    assert "perceiver.decoder.cross_attention.mlp.fc1.weight [64, 64] <- basic_decoder/cross_attention/mlp/linear/w" \
        " [64, 60] (transposed)" in message
    assert not (tmp_path / "out").exists()


def test_a_layer_missing_from_the_numbering_is_reported(tiny_params: dict, tmp_path: Path) -> None:
    # rename layer 1 to layer 2: the checkpoint implies 3 layers, and layer 1's arrays are missing
    for name in [n for n in tiny_params if n.startswith("perceiver_encoder/~/self_attention_1/")]:
        tiny_params[name.replace("self_attention_1/", "self_attention_2/")] = tiny_params.pop(name)
    with pytest.raises(MappingError, match=r"missing: model parameters without a source array \(16\):\n.*layers\.1"):
        _convert(tmp_path, tiny_params)


def test_overrides_that_contradict_the_weights_are_reported(tiny_params: dict, tmp_path: Path) -> None:
    missing_layer = r"(?s)missing.*layers\.2\.norm\.weight <- perceiver_encoder/~/self_attention_2/layer_norm/scale"
    with pytest.raises(MappingError, match=missing_layer):
        _convert(tmp_path, tiny_params, num_self_attention_layers_per_block=3)
    with pytest.raises(MappingError, match=r"perceiver.encoder.latent_provider.query \[8, 96\] <- "):
        _convert(tmp_path, tiny_params, num_latents=8)


def test_overrides_reach_the_saved_config(tiny_params: dict, tmp_path: Path) -> None:
    folder = _convert(tmp_path, tiny_params, num_self_attention_blocks=2, dropout=0.1)
    config = json.loads((folder / "config.json").read_text())
    assert (config["num_self_attention_blocks"], config["dropout"], config["num_self_attention_heads"]) == (2, 0.1, 4)


@pytest.mark.parametrize(
    "text, expected",
    [
        ("", {}),
        ("num_self_attention_heads=4", {"num_self_attention_heads": 4}),
        (
            " num_self_attention_blocks = 2 , layer_norm_eps=1e-12,hidden_act=gelu",
            {"num_self_attention_blocks": 2, "layer_norm_eps": 1e-12, "hidden_act": "gelu"},
        ),
        (
            "cross_attention_residual=false,tie_word_embeddings=True",
            {"cross_attention_residual": False, "tie_word_embeddings": True},
        ),
        ("num_self_attention_qk_channels=None", {"num_self_attention_qk_channels": None}),
    ],
)
def test_config_overrides_parse_to_field_types(text: str, expected: dict) -> None:
    parsed = parse_config_overrides(text)
    assert parsed == expected
    assert all(type(parsed[key]) is type(value) for key, value in expected.items())


@pytest.mark.parametrize(
    "text, message",
    [
        ("num_heads=4", "unknown key 'num_heads'. Valid keys (PerceiverConfig fields): vocab_size, max_seq_len,"),
        ("num_latents=1.5", "num_latents='1.5' is not a valid int"),
        ("dropout=lots", "dropout='lots' is not a valid float"),
        ("cross_attention_residual=maybe", "is not a boolean"),
        ("num_latents", "is not of the form key=value"),
        ("num_latents=None", "not a valid int"),  # not Optional
    ],
)
def test_bad_config_overrides_say_what_is_accepted(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        parse_config_overrides(text)


def test_inference_errors_name_the_missing_array(tiny_params: dict) -> None:
    del tiny_params["perceiver_encoder/~/trainable_position_encoding"]
    shapes = {f"{module}/{name}": a.shape for module, group in tiny_params.items() for name, a in group.items()}
    with pytest.raises(ValueError, match="perceiver_encoder/~/trainable_position_encoding/pos_embs"):
        infer_haiku_config(shapes)
