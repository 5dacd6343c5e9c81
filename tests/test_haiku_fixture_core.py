"""Our model against DeepMind's own JAX/Haiku code: tests/fixtures/haiku-tiny logits at every position.

The fixture's logits came from running DeepMind's perceiver.py on random parameters (params.pickle) and the
inputs in inputs.npz. We convert the same parameters with the package's converter (`convert_haiku_checkpoint`),
load the folder with `from_pretrained` and must reproduce every logit, padded positions included (they test
the query-mask wipe), within 5e-5 absolute. The sensitivity tests show that this tolerance would
catch the two subtlest porting mistakes listed in the manifest (LayerNorm eps, exact-erf GELU).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from perceiver_hf import PerceiverConfig, PerceiverForMaskedLM
from perceiver_hf.convert import convert_haiku_checkpoint

TOLERANCE = 5e-5  # fp32 noise between two exact implementations is ~1e-5 on these logits
HEAD_COUNTS = ("num_cross_attention_heads", "num_self_attention_heads", "decoder_num_cross_attention_heads")


@pytest.fixture(scope="module")
def manifest(haiku_tiny_dir: Path) -> dict:
    return json.loads((haiku_tiny_dir / "manifest.json").read_text())


@pytest.fixture(scope="module")
def converted_dir(haiku_tiny_dir: Path, manifest: dict, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """params.pickle through the package's converter (the weights do not show head counts: the manifest does)."""
    enc, dec = manifest["config"]["encoder_config"], manifest["config"]["decoder_config"]
    heads = dict(zip(HEAD_COUNTS, (enc["num_cross_attend_heads"], enc["num_self_attend_heads"], dec["num_heads"])))
    output_dir = tmp_path_factory.mktemp("haiku-tiny") / "model"
    return convert_haiku_checkpoint(
        haiku_tiny_dir / "params.pickle", output_dir, config_overrides=heads, progress=False
    )


@pytest.fixture(scope="module")
def fixture_io(haiku_tiny_dir: Path) -> tuple[torch.Tensor, torch.Tensor, np.ndarray]:
    inputs = np.load(haiku_tiny_dir / "inputs.npz")
    logits = np.load(haiku_tiny_dir / "logits.npz")["logits"]  # [3, 128, 262]
    return torch.from_numpy(inputs["input_ids"]).long(), torch.from_numpy(inputs["input_mask"]).long(), logits


def _config_from_manifest(manifest: dict, **overrides) -> PerceiverConfig:
    """Build the PerceiverConfig from the manifest's Haiku config (independently of conftest's TINY_CONFIG)."""
    cfg, enc, dec = manifest["config"], manifest["config"]["encoder_config"], manifest["config"]["decoder_config"]
    return PerceiverConfig(
        vocab_size=cfg["VOCAB_SIZE"],
        max_seq_len=cfg["MAX_SEQ_LEN"],
        num_input_channels=cfg["D_MODEL"],
        num_latents=enc["z_index_dim"],
        num_latent_channels=enc["num_z_channels"],
        num_cross_attention_heads=enc["num_cross_attend_heads"],
        num_cross_attention_qk_channels=enc["qk_channels"],
        num_cross_attention_v_channels=enc["v_channels"],
        cross_attention_widening_factor=enc["cross_attend_widening_factor"],
        cross_attention_residual=enc["use_query_residual"],
        num_self_attention_heads=enc["num_self_attend_heads"],
        num_self_attention_qk_channels=enc["qk_channels"],
        num_self_attention_v_channels=enc["v_channels"],
        num_self_attention_layers_per_block=enc["num_self_attends_per_block"],
        num_self_attention_blocks=enc["num_blocks"],
        self_attention_widening_factor=enc["self_attend_widening_factor"],
        decoder_num_cross_attention_heads=dec["num_heads"],
        decoder_num_cross_attention_qk_channels=dec["qk_channels"],
        decoder_num_cross_attention_v_channels=dec["v_channels"],
        decoder_cross_attention_residual=dec["use_query_residual"],
        **overrides,
    )


def _load(converted_dir: Path, **overrides) -> PerceiverForMaskedLM:
    model = PerceiverForMaskedLM.from_pretrained(converted_dir, **overrides).eval()
    assert model.lm_head.weight is model.perceiver.encoder.input_adapter.text_embedding.weight
    return model


def _max_errors(model: PerceiverForMaskedLM, fixture_io, output_attentions: bool) -> tuple[float, float]:
    """Max abs logit error against DeepMind at valid and at padded positions."""
    input_ids, input_mask, reference = fixture_io
    with torch.no_grad():
        logits = model(input_ids, attention_mask=input_mask, output_attentions=output_attentions).logits.numpy()
    diff = np.abs(logits - reference)
    valid = input_mask.numpy().astype(bool)
    return float(diff[valid].max()), float(diff[~valid].max())


def test_tiny_config_matches_manifest(manifest: dict, tiny_config) -> None:
    assert _config_from_manifest(manifest).to_diff_dict() == tiny_config().to_diff_dict()


def test_converted_config_and_parameter_count_match_manifest(manifest: dict, converted_dir: Path) -> None:
    model = _load(converted_dir)
    expected = _config_from_manifest(manifest).to_diff_dict()
    assert {key: model.config.to_dict()[key] for key in expected} == expected
    assert sum(p.numel() for p in model.parameters()) == manifest["total_parameters"]


@pytest.mark.parametrize(
    ("attn_implementation", "output_attentions"),
    [(None, False), ("eager", False), (None, True)],
    ids=["sdpa-default", "eager", "output-attentions"],
)
def test_logits_match_deepmind_at_every_position(converted_dir, fixture_io, attn_implementation, output_attentions) -> None:
    model = _load(converted_dir, **({} if attn_implementation is None else {"attn_implementation": attn_implementation}))
    assert model.config._attn_implementation == (attn_implementation or "sdpa")
    valid_error, padded_error = _max_errors(model, fixture_io, output_attentions)
    assert valid_error <= TOLERANCE, f"valid positions off by {valid_error:.2e}"
    assert padded_error <= TOLERANCE, f"padded positions off by {padded_error:.2e}"


def test_padded_positions_share_one_logit_vector(manifest, converted_dir, fixture_io) -> None:
    """DeepMind's query-mask wipe makes every padded position's logits identical (manifest 'observed')."""
    input_ids, input_mask, _ = fixture_io
    with torch.no_grad():
        logits = _load(converted_dir)(input_ids, attention_mask=input_mask).logits
    padded = logits[~input_mask.bool()]  # [P, V]
    assert manifest["observed"]["padded_position_logits_all_identical"]
    torch.testing.assert_close(padded, padded[:1].expand_as(padded), rtol=0, atol=1e-6)


def test_greedy_predictions_at_masked_bytes(manifest, converted_dir, fixture_io) -> None:
    input_ids, input_mask, _ = fixture_io
    with torch.no_grad():
        predictions = _load(converted_dir)(input_ids, attention_mask=input_mask).logits.argmax(-1)
    for example in manifest["examples"]:
        row = example["row"]
        positions = [p for start, end, _ in example["masked_spans"] for p in range(start, end)]
        expected = manifest["observed"]["greedy_predictions_at_masked_bytes"][str(row)]
        assert predictions[row, positions].tolist() == expected


@pytest.mark.parametrize(
    ("mistake", "overrides"),
    [
        ("layer_norm_eps_1e-12_instead_of_1e-5", {"layer_norm_eps": 1e-12}),
        ("gelu_exact_erf_instead_of_tanh", {"hidden_act": "gelu"}),
    ],
)
def test_tolerance_catches_porting_mistakes(manifest, converted_dir, fixture_io, mistake, overrides) -> None:
    """The same weights with a wrong LayerNorm eps or exact GELU must fail the 5e-5 check, by the manifest's margin."""
    model = _load(converted_dir, **overrides)
    valid_error, padded_error = _max_errors(model, fixture_io, output_attentions=False)
    assert max(valid_error, padded_error) > TOLERANCE

    # manifest sensitivity: max |changed - reference| over valid / padded positions, divided by the largest
    # |reference logit| at valid positions (manifest observed.logits_abs_max_valid)
    _, input_mask, reference = fixture_io
    scale = np.abs(reference[input_mask.numpy().astype(bool)]).max()
    assert scale == pytest.approx(manifest["observed"]["logits_abs_max_valid"])
    expected = manifest["sensitivity"][mistake]
    for name, error in (("valid", valid_error), ("padded", padded_error)):
        assert error / scale == pytest.approx(expected[f"{name}_positions"], rel=0.2), name
