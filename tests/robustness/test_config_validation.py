"""Every PerceiverConfig field is checked for type and range when the config is made; absurd sizes are refused
before anything is allocated (issue 14 item 12)."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

import pytest
from helpers.bounded import run_bounded

from perceiver_hf import PerceiverConfig, PerceiverForMaskedLM, PerceiverForSequenceClassification
from perceiver_hf.model_size import ALLOW_LARGE_ENV
from perceiver_hf.training.presets import TINY_CONFIG, tiny


@pytest.mark.parametrize(
    "field, value",
    [
        ("num_latent_channels", -16),
        ("num_input_channels", 64.0),
        ("num_latents", "256"),
        ("num_latents", True),
        ("num_self_attention_qk_channels", 0),  # used to mean "the default width", silently
        ("num_cross_attention_v_channels", -8),
        ("decoder_num_cross_attention_qk_channels", 12.5),
        ("initializer_range", -1),
        ("initializer_range", "0.02"),
        ("dropout", "x"),
        ("dropout", 1.0),
        ("layer_norm_eps", 0),
        ("layer_norm_eps", None),
        ("hidden_act", "nonsense"),
        ("hidden_act", ["gelu"]),
        ("cross_attention_residual", "yes"),
        ("tie_word_embeddings", 1),
        ("pad_token_id", "0"),  # was accepted before each field carried its own check
        ("pad_token_id", 1.5),
    ],
)
def test_bad_field_values_are_refused_by_name(field: str, value: object) -> None:
    with pytest.raises(ValueError, match=rf"PerceiverConfig\.{field} must be .*got {re.escape(repr(value))}"):
        PerceiverConfig(**{**TINY_CONFIG, field: value})


def test_standard_names_given_as_arguments_are_checked_as_their_field() -> None:
    """`PerceiverConfig(hidden_size=0)` used to build a config with a 0-wide input (the checks ran before
    transformers mapped the standard names onto the fields)."""
    with pytest.raises(ValueError, match=r"PerceiverConfig\.num_input_channels must be a positive integer, got 0;"):
        PerceiverConfig(**TINY_CONFIG, hidden_size=0)
    divisible = r"num_self_attention_qk_channels \(32\) is not divisible by num_self_attention_heads \(3\)"
    with pytest.raises(ValueError, match=divisible):
        PerceiverConfig(**TINY_CONFIG, num_attention_heads=3)


def test_defaults_presets_and_round_trips_stay_valid(tmp_path: Path) -> None:
    for config in (PerceiverConfig(), PerceiverConfig.perceiver_io_base(), tiny()):
        config.save_pretrained(tmp_path)
        assert PerceiverConfig.from_pretrained(tmp_path).to_dict() == config.to_dict()
        config.to_diff_dict()


def test_a_bad_config_json_names_the_field(tmp_path: Path) -> None:
    config = tiny().to_dict()
    config["dropout"] = "lots"
    (tmp_path / "config.json").write_text(json.dumps(config), encoding="utf-8")
    with pytest.raises(ValueError, match="PerceiverConfig.dropout must be a number"):
        PerceiverConfig.from_pretrained(tmp_path)


def test_estimated_parameter_count_is_the_real_one() -> None:
    """Independent figures: DeepMind's model has 201,108,230 parameters (its paper and checkpoint); the estimate
    counts the model built on the meta device, so it equals the built model's count, tied weights once."""
    assert PerceiverForMaskedLM.estimated_num_parameters(PerceiverConfig()) == 201_108_230
    for overrides in (
        {}, {"num_self_attention_qk_channels": None}, {"cross_attention_widening_factor": 4},
        {"tie_word_embeddings": False}, {"num_self_attention_blocks": 2, "first_self_attention_block_shared": False},
    ):  # fmt: skip
        config = tiny(**overrides)
        for model_class in (PerceiverForMaskedLM, PerceiverForSequenceClassification):
            estimate = model_class.estimated_num_parameters(config)
            assert estimate == model_class(config).num_parameters(), (model_class, overrides)
    # untied, the head has its own [V, C] weight
    untied = PerceiverForMaskedLM.estimated_num_parameters(tiny(tie_word_embeddings=False))
    assert untied - PerceiverForMaskedLM.estimated_num_parameters(tiny()) == TINY_CONFIG["vocab_size"] * TINY_CONFIG["num_input_channels"]


def test_an_assignment_is_checked_too() -> None:
    config = tiny()
    with pytest.raises(ValueError, match=r"PerceiverConfig\.num_latents must be a positive integer, got -1;"):
        config.num_latents = -1
    with pytest.raises(ValueError, match=r"PerceiverConfig\.num_input_channels must be a positive integer, got 'x';"):
        config.hidden_size = "x"  # transformers' standard name is checked as the field it stands for
    assert config.num_latents == TINY_CONFIG["num_latents"]


def test_unknown_keys_still_reach_pretrained_config() -> None:
    config = PerceiverConfig(**TINY_CONFIG, bos_token_id=1, my_note="kept")
    assert (config.bos_token_id, config.my_note) == (1, "kept")
    assert PerceiverConfig.from_dict(config.to_dict()).my_note == "kept"


def test_an_absurd_model_fails_fast_without_allocating(tmp_path: Path) -> None:
    """num_latents 10,000,000 took 6.7 GB and 28 s before failing; now it is refused with the figure."""
    config = tiny(num_latents=10_000_000, num_latent_channels=1280, num_cross_attention_v_channels=1280,
                  num_self_attention_v_channels=1280)  # fmt: skip
    config.save_pretrained(tmp_path)
    outcome = run_bounded(
        f"""
        from perceiver_hf import PerceiverConfig, PerceiverForMaskedLM, PerceiverForSequenceClassification
        PerceiverForMaskedLM(PerceiverConfig.from_pretrained({str(tmp_path)!r}))
        """,
        timeout=120,
        env={ALLOW_LARGE_ENV: "0"},
    )
    assert outcome.error == "ValueError", outcome
    assert "parameters" in outcome.message and ALLOW_LARGE_ENV in outcome.message
    assert outcome.seconds < 30 and outcome.peak_mb < 2000, outcome


def test_the_estimate_of_an_absurd_config_is_fast() -> None:
    """Built on the meta device, the 12.8-billion-parameter encoder takes no memory and little time."""
    config = tiny(num_latents=10_000_000, num_latent_channels=1280, num_cross_attention_v_channels=1280,
                  num_self_attention_v_channels=1280)  # fmt: skip
    start = time.perf_counter()
    assert PerceiverForMaskedLM.estimated_num_parameters(config) > 10_000_000 * 1280
    assert time.perf_counter() - start < 2.0


def test_the_size_check_leaves_the_config_to_the_model() -> None:
    """The count builds the model on the meta device from a copy of the config: building consumes
    `config.gradient_checkpointing` (transformers' backward compatibility), which the real model must still see."""
    config = tiny()
    config.gradient_checkpointing = True
    assert PerceiverForMaskedLM(config).is_activation_checkpointing
