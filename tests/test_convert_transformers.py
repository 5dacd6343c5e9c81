"""transformers' own PerceiverForMaskedLM -> perceiver-hf folder: the same logits as transformers' model.

Reference: transformers' `PerceiverForMaskedLM` itself, small and randomly initialised, saved to disk. Its
weights are drawn large enough (Linear ~ N(0, 1/fan_in)) that an exact-vs-tanh GELU or a 1e-12-vs-1e-5
LayerNorm eps mistake moves the logits by far more than the 1e-5 tolerance (checked below).
"""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import pytest
import torch
from helpers.conversion import TRANSFORMERS_SOURCE_CONFIG as SOURCE_CONFIG
from helpers.hub import add_snapshot, run_child
from huggingface_hub import ModelCard
from safetensors.torch import load_file
from transformers import AutoModelForMaskedLM, AutoModelForSequenceClassification, BertConfig
from transformers import PerceiverConfig as TransformersPerceiverConfig
from transformers import PerceiverForMaskedLM as TransformersPerceiverForMaskedLM
from transformers import PerceiverForSequenceClassification

from perceiver_hf.convert import ConversionError, convert_transformers_checkpoint

TOLERANCE = 1e-5
CONVERT_IN_CHILD = """
import json, sys
from perceiver_hf.cli import main
status = main(["convert", "transformers", sys.argv[1], sys.argv[2], "--quiet"])
json.dump({"status": status}, open(sys.argv[3], "w"))
"""
SEQ_LEN = 30
SOURCE_DATASET = "some-org/source-corpus"  # declared by the source's card
DEEPMIND_ONLY = ("wikimedia/wikipedia", "allenai/c4", "language_perceiver_io_bytes", "Haiku")  # the DeepMind card's


def _randomize_(model: torch.nn.Module, seed: int = 0) -> torch.nn.Module:
    """Linear weights ~ N(0, 1/fan_in), biases ~ N(0, 0.2), LayerNorm scales ~ N(1, 0.2), the rest ~ N(0, 0.05)."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, param in model.named_parameters():
            if name.endswith("weight") and param.ndim == 2 and "embeddings" not in name:
                mean, std = 0.0, 1.0 / math.sqrt(param.shape[1])
            elif name.endswith("weight") and "layernorm" in name:
                mean, std = 1.0, 0.2
            elif name.endswith("bias"):
                mean, std = 0.0, 0.2
            else:  # token and position embeddings, latents, decoder queries
                mean, std = 0.0, 0.05
            param.copy_(torch.randn(param.shape, generator=generator) * std + mean)
    return model.eval()


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, torch.nn.Module]:
    folder = tmp_path_factory.mktemp("transformers") / "source"
    model = _randomize_(TransformersPerceiverForMaskedLM(TransformersPerceiverConfig(**SOURCE_CONFIG)))
    model.save_pretrained(folder)
    card = f"---\nlicense: apache-2.0\ndatasets:\n- {SOURCE_DATASET}\n---\n# a tiny Perceiver\n"
    (folder / "README.md").write_text(card)
    return folder, model


@pytest.fixture(scope="module")
def converted(source: tuple[Path, torch.nn.Module]) -> Path:
    folder, _ = source
    return convert_transformers_checkpoint(folder, folder.parent / "converted", progress=False)


@pytest.fixture(scope="module")
def batch() -> dict[str, torch.Tensor]:
    """Three sequences of 30 byte ids; the second and third are right-padded after 20 and 5 tokens."""
    input_ids = torch.randint(6, 262, (3, SEQ_LEN), generator=torch.Generator().manual_seed(1))
    attention_mask = torch.ones(3, SEQ_LEN, dtype=torch.long)
    attention_mask[1, 20:] = 0
    attention_mask[2, 5:] = 0
    return {"input_ids": input_ids, "attention_mask": attention_mask}


def _valid_error(
    folder: Path, reference: torch.nn.Module, batch: dict[str, torch.Tensor], **overrides: object
) -> float:
    """Max |ours - transformers'| logits at non-padded positions (transformers always decodes all 40 positions)."""
    ours = AutoModelForMaskedLM.from_pretrained(folder, **overrides).eval()
    with torch.no_grad():
        expected = reference(**batch).logits[:, : batch["input_ids"].shape[1]]  # [B, L, 262]
        logits = ours(**batch).logits  # [B, L, 262]
    return float((logits - expected)[batch["attention_mask"].bool()].abs().max())


def test_same_logits_as_transformers(
    converted: Path, source: tuple[Path, torch.nn.Module], batch: dict[str, torch.Tensor]
) -> None:
    _, reference = source
    assert _valid_error(converted, reference, batch) <= TOLERANCE
    unpadded = {"input_ids": batch["input_ids"][:1, :12], "attention_mask": batch["attention_mask"][:1, :12]}
    assert _valid_error(converted, reference, unpadded) <= TOLERANCE


@pytest.mark.parametrize("wrong", [{"layer_norm_eps": 1e-12}, {"hidden_act": "gelu_pytorch_tanh"}])
def test_the_carried_settings_matter(
    converted: Path, source: tuple[Path, torch.nn.Module], batch: dict[str, torch.Tensor], wrong: dict
) -> None:
    assert _valid_error(converted, source[1], batch, **wrong) > 10 * TOLERANCE


def test_settings_are_what_transformers_computes_with(converted: Path, source: tuple[Path, torch.nn.Module]) -> None:
    _, reference = source
    config = json.loads((converted / "config.json").read_text())
    assert config["hidden_act"] == reference.config.hidden_act == "gelu"  # exact erf GELU
    module_eps = {m.eps for m in reference.modules() if isinstance(m, torch.nn.LayerNorm)}
    assert module_eps == {config["layer_norm_eps"]}  # what its nn.LayerNorm modules use ...
    assert reference.config.layer_norm_eps == 1e-12  # ... which transformers 5.x's Perceiver does not read
    assert (config["decoder_num_cross_attention_heads"], config["decoder_num_cross_attention_qk_channels"]) == (8, 256)
    assert (config["num_self_attention_blocks"], config["num_self_attention_layers_per_block"]) == (2, 2)
    assert (config["cross_attention_widening_factor"], config["num_cross_attention_qk_channels"]) == (2, 16)
    assert (config["max_seq_len"], config["num_latents"], config["num_latent_channels"]) == (40, 8, 48)
    assert config["cross_attention_residual"] is True and config["decoder_cross_attention_residual"] is False


def test_weights_are_copied_unchanged(converted: Path, source: tuple[Path, torch.nn.Module]) -> None:
    theirs = source[1].state_dict()
    ours = load_file(converted / "model.safetensors")
    assert len(ours) == len(theirs)
    pairs = {
        "perceiver.encoder.latent_provider.query": "perceiver.embeddings.latents",
        "perceiver.encoder.self_attention.layers.1.attention.o_proj.weight":
            "perceiver.encoder.self_attends.1.attention.output.dense.weight",
        "perceiver.decoder.cross_attention.kv_norm.bias":
            "perceiver.decoder.decoding_cross_attention.attention.self.layernorm2.bias",
    }
    for our_key, their_key in pairs.items():
        assert torch.equal(ours[our_key], theirs[their_key])


def test_model_card_carries_the_source_license(converted: Path, source: tuple[Path, torch.nn.Module]) -> None:
    card = ModelCard.load(converted / "README.md")
    assert card.data.license == "apache-2.0" and card.data.pipeline_tag == "fill-mask"
    assert card.data.datasets == [SOURCE_DATASET]  # what the source's card declares, nothing added
    assert card.data.base_model is None  # a local folder is not a Hub model
    assert f"perceiver-hf convert transformers {source[0]} {converted}" in card.text
    assert f"local folder `{source[0]}`" in card.text
    assert not [claim for claim in DEEPMIND_ONLY if claim in str(card)]


def test_model_card_of_a_source_without_card_claims_nothing(tmp_path: Path) -> None:
    TransformersPerceiverForMaskedLM(TransformersPerceiverConfig(**SOURCE_CONFIG)).save_pretrained(tmp_path / "bare")
    out = convert_transformers_checkpoint(tmp_path / "bare", tmp_path / "out", progress=False)
    card = ModelCard.load(out / "README.md")
    assert card.data.license == "unknown"  # the Hub's id for "license information unavailable"
    assert card.data.datasets is None and card.data.base_model is None and card.data.eval_results is None
    assert (card.data.library_name, card.data.pipeline_tag) == ("transformers", "fill-mask")
    assert not [claim for claim in DEEPMIND_ONLY if claim in str(card)]


def test_other_checkpoints_are_refused(
    tmp_path: Path, converted: Path, source: tuple[Path, torch.nn.Module]
) -> None:
    # masked-LM weights under a config.json that says "sequence classifier": its decoder is missing
    shutil.copytree(source[0], tmp_path / "classifier")
    config = json.loads((tmp_path / "classifier" / "config.json").read_text())
    config["architectures"] = ["PerceiverForSequenceClassification"]
    (tmp_path / "classifier" / "config.json").write_text(json.dumps(config))
    with pytest.raises(ConversionError, match="not a complete PerceiverForSequenceClassification checkpoint"):
        convert_transformers_checkpoint(tmp_path / "classifier", tmp_path / "out1", progress=False)
    BertConfig(hidden_size=8, num_hidden_layers=1, num_attention_heads=2).save_pretrained(tmp_path / "bert")
    with pytest.raises(ConversionError, match="model_type 'bert'"):
        convert_transformers_checkpoint(tmp_path / "bert", tmp_path / "out2", progress=False)
    with pytest.raises(ConversionError, match="already a perceiver-hf model"):
        convert_transformers_checkpoint(converted, tmp_path / "out3", progress=False)
    with pytest.raises(ConversionError, match="cannot load a transformers config"):
        convert_transformers_checkpoint(tmp_path / "nothing-here", tmp_path / "out4", progress=False)
    assert sorted(path.name for path in tmp_path.iterdir()) == ["bert", "classifier"]


def test_hub_id_from_the_cache_offline_on_the_command_line(
    source: tuple[Path, torch.nn.Module], converted: Path
) -> None:
    folder, _ = source
    root = folder.parent
    commit = add_snapshot(root / "cache", "org/perceiver", "main", folder)
    out = root / "from-hub"
    result = run_child(root, CONVERT_IN_CHILD, ["org/perceiver", str(out)], {"HF_HUB_CACHE": str(root / "cache")})
    assert result["status"] == 0
    from_hub, from_folder = load_file(out / "model.safetensors"), load_file(converted / "model.safetensors")
    assert from_hub.keys() == from_folder.keys() and all(torch.equal(from_hub[k], from_folder[k]) for k in from_hub)
    card = ModelCard.load(out / "README.md")
    assert (card.data.license, card.data.datasets) == ("apache-2.0", [SOURCE_DATASET])
    assert card.data.base_model == "org/perceiver"
    assert f"(https://huggingface.co/org/perceiver) at revision `main` (commit `{commit}`)" in card.text


def test_a_sequence_classifier_converts_with_equal_logits(tmp_path: Path, batch: dict[str, torch.Tensor]) -> None:
    """transformers' PerceiverForSequenceClassification (random, large weights) -> ours: logits equal to 1e-5,
    padded sequences included (both mask padding in the encoder), labels carried over."""
    labels = {0: "library", 1: "tutorial", 2: "howto"}
    source_config = TransformersPerceiverConfig(
        **SOURCE_CONFIG, num_labels=3, id2label=labels, label2id={v: k for k, v in labels.items()}
    )
    source = _randomize_(PerceiverForSequenceClassification(source_config), seed=3)
    source.save_pretrained(tmp_path / "source")
    out = convert_transformers_checkpoint(tmp_path / "source", tmp_path / "out", progress=False)
    ours = AutoModelForSequenceClassification.from_pretrained(out).eval()
    assert type(ours).__name__ == "PerceiverForSequenceClassification" and type(ours).__module__.startswith(
        "perceiver_hf"
    )
    assert ours.config.id2label == labels
    with torch.no_grad():
        expected = source(inputs=batch["input_ids"], attention_mask=batch["attention_mask"]).logits
        logits = ours(**batch).logits
    assert logits.shape == (3, 3) and expected.abs().max() > 0.1
    torch.testing.assert_close(logits, expected, atol=TOLERANCE, rtol=0)
    card = ModelCard.load(out / "README.md")
    assert card.data.pipeline_tag == "text-classification" and "PerceiverForSequenceClassification" in str(card)
