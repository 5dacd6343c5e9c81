"""Our model against DeepMind's own JAX/Haiku code: shared/fixtures/haiku-tiny logits at every position.

The fixture's logits came from running DeepMind's perceiver.py on random parameters (params.pickle) and the
inputs in inputs.npz. We load the same parameters and must reproduce every logit, padded positions included
(they test the query-mask wipe), within 5e-5 absolute. The sensitivity tests show that this tolerance would
catch the two subtlest porting mistakes listed in the manifest (LayerNorm eps, exact-erf GELU).
"""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import numpy as np
import pytest
import torch

from perceiver_hf import PerceiverConfig, PerceiverForMaskedLM

TOLERANCE = 5e-5  # fp32 noise between two exact implementations is ~1e-5 on these logits

# Haiku attention/MLP linear names -> ours (perceiver.py: q, k, v, output = linear, linear_1, linear_2, linear_3)
ATTENTION = {"q_proj": "linear", "k_proj": "linear_1", "v_proj": "linear_2", "o_proj": "linear_3"}
MLP = {"fc1": "linear", "fc2": "linear_1"}
CROSS_NORMS = {"q_norm": "layer_norm", "kv_norm": "layer_norm_1", "mlp_norm": "layer_norm_2"}
SELF_NORMS = {"norm": "layer_norm", "mlp_norm": "layer_norm_1"}


def _haiku_to_state_dict(params: dict, num_layers: int) -> dict[str, torch.Tensor]:
    """A test-local Haiku -> PerceiverForMaskedLM state dict (DESIGN/TEAM key table), every param used once."""
    used: set[tuple[str, str]] = set()

    def get(module: str, name: str) -> torch.Tensor:
        used.add((module, name))
        return torch.from_numpy(np.asarray(params[module][name], dtype=np.float32))

    def linear(ours: str, module: str) -> dict[str, torch.Tensor]:
        return {f"{ours}.weight": get(module, "w").T.contiguous(), f"{ours}.bias": get(module, "b")}

    def norm(ours: str, module: str) -> dict[str, torch.Tensor]:
        return {f"{ours}.weight": get(module, "scale"), f"{ours}.bias": get(module, "offset")}

    def layer(ours: str, module: str, norms: dict[str, str]) -> dict[str, torch.Tensor]:
        out: dict[str, torch.Tensor] = {}
        for our_norm, hk_norm in norms.items():
            out.update(norm(f"{ours}.{our_norm}", f"{module}/{hk_norm}"))
        for our_lin, hk_lin in ATTENTION.items():
            out.update(linear(f"{ours}.attention.{our_lin}", f"{module}/attention/{hk_lin}"))
        for our_lin, hk_lin in MLP.items():
            out.update(linear(f"{ours}.mlp.{our_lin}", f"{module}/mlp/{hk_lin}"))
        return out

    state = {
        "perceiver.encoder.input_adapter.text_embedding.weight": get("embed", "embeddings"),
        "perceiver.encoder.input_adapter.pos_encoding": get("trainable_position_encoding", "pos_embs"),
        "perceiver.encoder.latent_provider.query": get("perceiver_encoder/~/trainable_position_encoding", "pos_embs"),
        "perceiver.decoder.output_query_provider.query": get("basic_decoder/~/trainable_position_encoding", "pos_embs"),
        "lm_head.bias": get("embedding_decoder", "bias"),
    }
    state.update(layer("perceiver.encoder.cross_attention", "perceiver_encoder/~/cross_attention", CROSS_NORMS))
    state.update(layer("perceiver.decoder.cross_attention", "basic_decoder/cross_attention", CROSS_NORMS))
    for i in range(num_layers):
        module = "perceiver_encoder/~/self_attention" + ("" if i == 0 else f"_{i}")
        state.update(layer(f"perceiver.encoder.self_attention.layers.{i}", module, SELF_NORMS))
    all_params = {(module, name) for module, group in params.items() for name in group}
    assert used == all_params, f"Haiku params not mapped: {sorted(all_params - used)}"
    return state


@pytest.fixture(scope="module")
def manifest(haiku_tiny_dir: Path) -> dict:
    return json.loads((haiku_tiny_dir / "manifest.json").read_text())


@pytest.fixture(scope="module")
def haiku_state(haiku_tiny_dir: Path, manifest: dict) -> dict[str, torch.Tensor]:
    with open(haiku_tiny_dir / "params.pickle", "rb") as f:
        params = pickle.load(f)
    return _haiku_to_state_dict(params, manifest["config"]["encoder_config"]["num_self_attends_per_block"])


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


def _load(manifest: dict, state: dict[str, torch.Tensor], **overrides) -> PerceiverForMaskedLM:
    model = PerceiverForMaskedLM(_config_from_manifest(manifest, **overrides)).eval()
    result = model.load_state_dict(state, strict=False)
    assert result.unexpected_keys == []
    assert result.missing_keys == ["lm_head.weight"]  # tied to the embedding, which is loaded
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


def test_parameter_count_matches_manifest(manifest: dict) -> None:
    model = PerceiverForMaskedLM(_config_from_manifest(manifest))
    assert sum(p.numel() for p in model.parameters()) == manifest["total_parameters"]


@pytest.mark.parametrize("output_attentions", [False, True], ids=["sdpa", "eager"])
def test_logits_match_deepmind_at_every_position(manifest, haiku_state, fixture_io, output_attentions) -> None:
    model = _load(manifest, haiku_state)
    valid_error, padded_error = _max_errors(model, fixture_io, output_attentions)
    assert valid_error <= TOLERANCE, f"valid positions off by {valid_error:.2e}"
    assert padded_error <= TOLERANCE, f"padded positions off by {padded_error:.2e}"


def test_padded_positions_share_one_logit_vector(manifest, haiku_state, fixture_io) -> None:
    """DeepMind's query-mask wipe makes every padded position's logits identical (manifest 'observed')."""
    input_ids, input_mask, _ = fixture_io
    with torch.no_grad():
        logits = _load(manifest, haiku_state)(input_ids, attention_mask=input_mask).logits
    padded = logits[~input_mask.bool()]  # [P, V]
    assert manifest["observed"]["padded_position_logits_all_identical"]
    torch.testing.assert_close(padded, padded[:1].expand_as(padded), rtol=0, atol=1e-6)


def test_greedy_predictions_at_masked_bytes(manifest, haiku_state, fixture_io) -> None:
    input_ids, input_mask, _ = fixture_io
    with torch.no_grad():
        predictions = _load(manifest, haiku_state)(input_ids, attention_mask=input_mask).logits.argmax(-1)
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
def test_tolerance_catches_porting_mistakes(manifest, haiku_state, fixture_io, mistake, overrides) -> None:
    """The same weights with a wrong LayerNorm eps or exact GELU must fail the 5e-5 check, by the manifest's margin."""
    model = _load(manifest, haiku_state, **overrides)
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
