"""Haiku checkpoint -> model folder, end to end, against DeepMind's own outputs (tests/fixtures/haiku-tiny).

Every fixture form converts, and the folder, loaded with plain transformers APIs, reproduces DeepMind's logits
at every position (valid and padded) within 5e-5. References: logits.npz and manifest.json (DeepMind's code),
the standard pickle module, hashlib.
"""

from __future__ import annotations

import hashlib
import json
import pickle
import runpy
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from helpers.conversion import FIXTURE_PICKLES, TINY_HEADS, TINY_HEADS_ARG, TOLERANCE, fixture_logit_errors
from huggingface_hub import ModelCard
from safetensors.torch import load_file
from transformers import AutoModelForMaskedLM, AutoTokenizer, pipeline

from perceiver_hf.cli import main
from perceiver_hf.convert import convert_haiku_checkpoint

REPO_ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def converted(haiku_tiny_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Each fixture pickle converted (with haiku-tiny's 4 heads) into its own folder."""
    root = tmp_path_factory.mktemp("converted")
    return {
        name: convert_haiku_checkpoint(haiku_tiny_dir / name, root / name, config_overrides=TINY_HEADS, progress=False)
        for name in FIXTURE_PICKLES
    }


@pytest.mark.parametrize("name", FIXTURE_PICKLES)
def test_folder_reproduces_deepmind_logits_everywhere(
    converted: dict[str, Path], haiku_tiny_dir: Path, name: str
) -> None:
    model = AutoModelForMaskedLM.from_pretrained(converted[name]).eval()
    assert model.dtype == torch.float32
    valid_error, padded_error = fixture_logit_errors(model, haiku_tiny_dir)
    assert valid_error <= TOLERANCE, f"valid positions off by {valid_error}"
    assert padded_error <= TOLERANCE, f"padded positions off by {padded_error}"


def test_deepmind_default_heads_do_not_fit_the_tiny_fixture(haiku_tiny_dir: Path, tmp_path: Path) -> None:
    """Head counts are not in the weights: without the override the model is built (8 heads) but wrong."""
    folder = convert_haiku_checkpoint(haiku_tiny_dir / "params.pickle", tmp_path / "out", progress=False)
    model = AutoModelForMaskedLM.from_pretrained(folder).eval()
    assert model.config.num_self_attention_heads == 8
    assert fixture_logit_errors(model, haiku_tiny_dir)[0] > 100 * TOLERANCE


def test_config_holds_the_dimensions_deepmind_used(converted: dict[str, Path], haiku_tiny_dir: Path) -> None:
    expected = json.loads((haiku_tiny_dir / "manifest.json").read_text())["config"]
    encoder, decoder = expected["encoder_config"], expected["decoder_config"]
    config = json.loads((converted["params-legacy.pickle"] / "config.json").read_text())
    assert config["model_type"] == "perceiver_io" and config["architectures"] == ["PerceiverForMaskedLM"]
    assert (config["vocab_size"], config["max_seq_len"]) == (expected["VOCAB_SIZE"], expected["MAX_SEQ_LEN"])
    assert (config["num_input_channels"], config["num_latent_channels"]) == (expected["D_MODEL"], expected["D_LATENTS"])
    assert config["num_latents"] == encoder["z_index_dim"]
    assert config["num_self_attention_layers_per_block"] == encoder["num_self_attends_per_block"]
    for kind in ("cross", "self"):
        assert config[f"num_{kind}_attention_qk_channels"] == encoder["qk_channels"]
        assert config[f"num_{kind}_attention_v_channels"] == encoder["v_channels"]
    assert config["decoder_num_cross_attention_qk_channels"] == decoder["qk_channels"]
    assert config["decoder_num_cross_attention_v_channels"] == decoder["v_channels"]
    assert config["num_self_attention_heads"] == encoder["num_self_attend_heads"]
    assert (config["hidden_act"], config["layer_norm_eps"]) == ("gelu_pytorch_tanh", 1e-5)


def test_saved_weights_are_the_haiku_arrays(converted: dict[str, Path], haiku_tiny_dir: Path) -> None:
    with open(haiku_tiny_dir / "params.pickle", "rb") as file:
        params = pickle.load(file)
    weights = load_file(converted["params.pickle"] / "model.safetensors")
    manifest = json.loads((haiku_tiny_dir / "manifest.json").read_text())
    assert len(weights) == len(manifest["parameters"]) and "lm_head.weight" not in weights  # tied, not stored
    assert sum(t.numel() for t in weights.values()) == manifest["total_parameters"]
    layer = params["perceiver_encoder/~/self_attention_1/attention/linear_3"]
    assert torch.equal(weights["perceiver.encoder.self_attention.layers.1.attention.o_proj.weight"],
                       torch.from_numpy(layer["w"].T.copy()))
    assert torch.equal(weights["perceiver.encoder.input_adapter.text_embedding.weight"],
                       torch.from_numpy(params["embed"]["embeddings"]))
    assert torch.equal(weights["lm_head.bias"], torch.from_numpy(params["embedding_decoder"]["bias"]))


def test_fill_mask_pipeline_predicts_deepmind_bytes(converted: dict[str, Path], haiku_tiny_dir: Path) -> None:
    # manifest example row 2: "Bytes in, bytes out." with " out" (positions 15-18) masked
    reference = np.load(haiku_tiny_dir / "logits.npz")["logits"][2, 15:19]  # [4, 262]
    probabilities = torch.softmax(torch.from_numpy(reference), dim=-1)
    fill = pipeline("fill-mask", model=str(converted["params-jax-arrays.pickle"]), top_k=1)
    results = fill("Bytes in, bytes" + "[MASK]" * 4 + ".")
    assert len(results) == 4
    for position, (best,) in enumerate(results):
        assert best["token"] == int(reference[position].argmax())
        assert best["score"] == pytest.approx(float(probabilities[position].max()), abs=1e-4)
    assert AutoTokenizer.from_pretrained(converted["params.pickle"])("é")["input_ids"] == [0xC3 + 6, 0xA9 + 6]


def test_model_card_has_hub_metadata_and_provenance(converted: dict[str, Path], haiku_tiny_dir: Path) -> None:
    folder = converted["params-legacy.pickle"]
    card = ModelCard.load(folder / "README.md")
    assert card.data.license == "cc-by-4.0"
    assert (card.data.pipeline_tag, card.data.library_name) == ("fill-mask", "transformers")
    assert "perceiver-io" in card.data.tags
    digest = hashlib.sha256((haiku_tiny_dir / "params-legacy.pickle").read_bytes()).hexdigest()
    assert digest in card.text
    assert "https://storage.googleapis.com/perceiver_io/language_perceiver_io_bytes.pickle" in card.text
    assert f"perceiver-hf convert haiku {haiku_tiny_dir / 'params-legacy.pickle'} {folder}" in card.text
    assert f"--config-overrides {TINY_HEADS_ARG}" in card.text
    assert "186,822" in card.text  # manifest total_parameters


def test_command_line_and_script(haiku_tiny_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pickle_path = str(haiku_tiny_dir / "params-legacy.pickle")
    out = tmp_path / "cli"
    assert main(["convert", "haiku", pickle_path, str(out), "--config-overrides", TINY_HEADS_ARG, "--quiet"]) == 0
    assert fixture_logit_errors(AutoModelForMaskedLM.from_pretrained(out).eval(), haiku_tiny_dir)[0] <= TOLERANCE

    script = REPO_ROOT / "conversion" / "convert_haiku_to_safetensors.py"
    monkeypatch.setattr(sys, "argv", [str(script), pickle_path, str(tmp_path / "script"), "--quiet",
                                      "--config-overrides", TINY_HEADS_ARG])
    with pytest.raises(SystemExit) as exit_info:
        runpy.run_path(str(script), run_name="__main__")
    assert exit_info.value.code == 0
    from_script, from_cli = load_file(tmp_path / "script" / "model.safetensors"), load_file(out / "model.safetensors")
    assert from_script.keys() == from_cli.keys() and all(torch.equal(from_script[k], from_cli[k]) for k in from_cli)


@pytest.mark.parametrize(
    "case, message",
    [
        ("missing", "does not exist"),
        ("corrupt", "corrupt, truncated or not a pickle"),
        ("bad-override", "unknown key 'num_heads'"),
        ("bad-value", "num_latents='many' is not a valid int"),
        ("not-empty", "is not empty"),
    ],
)
def test_command_line_errors(
    haiku_tiny_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture, case: str, message: str
) -> None:
    pickle_path = haiku_tiny_dir / "params.pickle"
    out = tmp_path / "out"
    args = ["convert", "haiku", str(pickle_path), str(out), "--quiet"]
    if case == "missing":
        args[2] = str(tmp_path / "missing.pickle")
    elif case == "corrupt":
        (tmp_path / "corrupt.pickle").write_bytes(pickle_path.read_bytes()[:1000])
        args[2] = str(tmp_path / "corrupt.pickle")
    elif case == "bad-override":
        args += ["--config-overrides", "num_heads=4"]
    elif case == "bad-value":
        args += ["--config-overrides", "num_latents=many"]
    else:
        out.mkdir()
        (out / "keep.txt").write_text("mine")
    assert main(args) == 1
    error = capsys.readouterr().err
    assert error.startswith("perceiver-hf convert: error:") and message in error
    assert "Traceback" not in error
    assert case == "not-empty" or not out.exists()


def test_command_line_says_which_unseen_settings_it_assumed(
    haiku_tiny_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pickle_path = str(haiku_tiny_dir / "params.pickle")
    main(["convert", "haiku", pickle_path, str(tmp_path / "default")])  # the tiny fixture has 4 heads: fails
    said = capsys.readouterr().out
    assert "assuming DeepMind's: num_cross_attention_heads=8,num_self_attention_heads=8" in said
    assert "--config-overrides" in said
    assert main(["convert", "haiku", pickle_path, str(tmp_path / "given"), "--config-overrides", TINY_HEADS_ARG]) == 0
    assert "num_self_attention_heads=8" not in capsys.readouterr().out


def test_saved_tokenizer_truncates_to_the_model_length(converted: dict[str, Path], haiku_tiny_dir: Path) -> None:
    folder = converted[FIXTURE_PICKLES[0]]
    max_seq_len = json.loads((folder / "config.json").read_text())["max_seq_len"]
    tokenizer = AutoTokenizer.from_pretrained(folder)
    assert tokenizer.model_max_length == max_seq_len
    assert len(tokenizer("x" * (max_seq_len + 50), truncation=True).input_ids) == max_seq_len
