"""`perceiver-hf convert perceiver-io` on the library's 0.9-0.11 Hugging Face folders.

The reference is tests/fixtures/perceiver_io_hf: tiny models saved by perceiver-io 0.11.0 itself (transformers
4.28, random weights, non-default encoder options; generate.py and README.md there), with the library's own logits
for a padded batch and its own parameter counts (manifest.json). After conversion, perceiver-hf's logits must equal
the library's to 1e-5 at the valid positions.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from typing import Any

import pytest
import torch
from helpers.hub import add_snapshot, run_child
from safetensors.torch import load_file
from transformers import AutoModelForMaskedLM, AutoModelForSequenceClassification, pipeline

from perceiver_hf.cli import main
from perceiver_hf.convert import ConversionError, MappingError, UnsafePickleError, convert_perceiver_io_folder

TOLERANCE = 1e-5
FIXTURES = Path(__file__).parent / "fixtures" / "perceiver_io_hf"
MANIFEST = json.loads((FIXTURES / "manifest.json").read_text())["fixtures"]
MODELS = {
    "mlm-unshared": AutoModelForMaskedLM,  # 2 unshared cross-attentions, 3 blocks (first unshared); safetensors
    "mlm-deepmind-like": AutoModelForMaskedLM,  # shared, unset widths, no decoder query residual; pytorch_model.bin
    "text-classifier": AutoModelForSequenceClassification,  # 2 shared cross-attentions, unshared blocks
}
CONVERT_IN_CHILD = """
import json, sys
from perceiver_hf.cli import main
status = main(["convert", "perceiver-io", sys.argv[1], sys.argv[2], "--quiet"])
json.dump({"status": status}, open(sys.argv[3], "w"))
"""


@pytest.fixture(scope="module")
def converted(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("converted")
    return {name: convert_perceiver_io_folder(FIXTURES / name, root / name, progress=False) for name in MODELS}


def _library_config(name: str) -> dict[str, Any]:
    return json.loads((FIXTURES / name / "config.json").read_text())


@pytest.mark.parametrize("name", list(MODELS))
def test_logits_equal_the_librarys(converted: dict[str, Path], name: str) -> None:
    expected = load_file(FIXTURES / name / "expected.safetensors")
    model = MODELS[name].from_pretrained(converted[name]).eval()
    with torch.no_grad():
        logits = model(input_ids=expected["input_ids"], attention_mask=expected["attention_mask"]).logits
    assert logits.shape == expected["logits"].shape
    error = (logits - expected["logits"]).abs()
    if logits.dim() == 3:  # masked LM: the valid positions (padded ones are decoded like the library's too)
        valid = expected["attention_mask"].bool()
        assert float(error[valid].max()) <= TOLERANCE
        assert float(error[~valid].max()) <= TOLERANCE
    else:
        assert float(error.max()) <= TOLERANCE


@pytest.mark.parametrize("name", list(MODELS))
def test_the_encoder_options_and_sizes_are_the_librarys(converted: dict[str, Path], name: str) -> None:
    """The library's encoder options become config fields, and the model has the library's own parameter count."""
    encoder = _library_config(name)["model_config"]["encoder"]
    config = json.loads((converted[name] / "config.json").read_text())
    for option in ("num_cross_attention_layers", "first_cross_attention_layer_shared",
                   "first_self_attention_block_shared", "num_self_attention_blocks"):  # fmt: skip
        assert config[option] == encoder[option], option
    assert config["scale_input_embeddings"] is False and config["hidden_act"] == "gelu"
    model = MODELS[name].from_pretrained(converted[name])
    assert model.num_parameters() == MANIFEST[name]["num_parameters"]


def test_decoder_without_query_residual_and_the_byte_tokenizer(converted: dict[str, Path]) -> None:
    folder = converted["mlm-deepmind-like"]
    config = json.loads((folder / "config.json").read_text())
    assert config["decoder_cross_attention_residual"] is False  # the source's decoder cross_attention_residual
    assert (folder / "tokenizer_config.json").is_file()  # the source named PerceiverTokenizer: ours, same ids
    card = (folder / "README.md").read_text()
    assert "perceiver-io 0.9-0.11" in card and "mlm-deepmind-like" in card and "pytorch_model.bin" in card


def test_the_library_semantics_matter(converted: dict[str, Path]) -> None:
    """perceiver-io 0.4's embedding scale would be wrong here, and so would sharing the unshared weights."""
    expected = load_file(FIXTURES / "mlm-unshared" / "expected.safetensors")
    model = AutoModelForMaskedLM.from_pretrained(converted["mlm-unshared"], scale_input_embeddings=True).eval()
    with torch.no_grad():
        logits = model(input_ids=expected["input_ids"], attention_mask=expected["attention_mask"]).logits
    assert float((logits - expected["logits"]).abs().max()) > 10 * TOLERANCE
    with pytest.raises(Exception, match="later_self_attention"):
        AutoModelForMaskedLM.from_pretrained(converted["mlm-unshared"], first_self_attention_block_shared=True)


def test_the_classifier_keeps_its_labels_and_runs_in_the_pipeline(tmp_path: Path) -> None:
    """A classifier whose source names the byte tokenizer runs in pipeline("text-classification"), batched,
    with the source's label names; its scores are the softmax of the model's logits."""
    source = tmp_path / "source"
    shutil.copytree(FIXTURES / "text-classifier", source)
    library = _library_config("text-classifier")
    (source / "config.json").write_text(json.dumps({**library, "tokenizer_class": "PerceiverTokenizer"}))
    folder = convert_perceiver_io_folder(source, tmp_path / "out", progress=False)
    classifier = pipeline("text-classification", model=str(folder), top_k=None)
    texts = ["a short text", "another, longer text with more bytes"]
    results = classifier(texts, batch_size=2, truncation=True)  # the model reads 16 tokens
    names = set(library["id2label"].values())
    assert [sorted(item["label"] for item in result) for result in results] == [sorted(names)] * 2
    model = AutoModelForSequenceClassification.from_pretrained(folder).eval()
    tokenizer = classifier.tokenizer
    with torch.no_grad():
        probabilities = model(**tokenizer(texts[:1], truncation=True, return_tensors="pt")).logits.softmax(-1)[0]
    scores = {item["label"]: item["score"] for item in results[0]}
    for index, name in library["id2label"].items():
        assert scores[name] == pytest.approx(float(probabilities[int(index)]), abs=1e-6)


def test_a_hub_id_converts_from_the_cache(tmp_path: Path, converted: dict[str, Path]) -> None:
    """The Hub path (offline, from a cache in the Hub's own layout): the same weights as from the folder."""
    add_snapshot(tmp_path / "cache", "some-org/perceiver-io-mlm", "main", FIXTURES / "mlm-unshared")
    out = tmp_path / "from-hub"
    result = run_child(tmp_path, CONVERT_IN_CHILD, ["some-org/perceiver-io-mlm", str(out)],
                       {"HF_HUB_CACHE": str(tmp_path / "cache")})  # fmt: skip
    assert result["status"] == 0
    from_hub, from_folder = load_file(out / "model.safetensors"), load_file(converted["mlm-unshared"] / "model.safetensors")
    assert from_hub.keys() == from_folder.keys() and all(torch.equal(from_hub[k], from_folder[k]) for k in from_hub)
    assert "some-org/perceiver-io-mlm" in (out / "README.md").read_text()


def _copy_with_config(tmp_path: Path, name: str, edit: Any) -> Path:
    source = tmp_path / "source"
    shutil.copytree(FIXTURES / name, source)
    config = _library_config(name)
    edit(config)
    (source / "config.json").write_text(json.dumps(config))
    return source


def _drop(mapping: dict, key: str) -> None:
    del mapping[key]


BAD_CONFIGS = {
    # the library's causal LM converts (tests/test_perceiver_ar_library.py); its config without weights does not
    "causal-lm": (None, r"has no weights file; expected model.safetensors or pytorch_model.bin"),
    "symbolic-audio": (lambda c: c.update(model_type="perceiver-ar-symbolic-audio-model"),
                       r"a symbolic audio model \(Perceiver AR; not text\)"),
    "image": (lambda c: c.update(model_type="perceiver-io-image-classifier"), r"an image classifier"),
    "unknown-type": (lambda c: c.update(model_type="bert"), r"model_type 'bert'; supported"),
    "missing-encoder-field": (lambda c: _drop(c["model_config"]["encoder"], "num_cross_attention_layers"),
                              r"encoder config has no \['num_cross_attention_layers'\]"),
    "unknown-decoder-field": (lambda c: c["model_config"]["decoder"].update(rotary=True),
                              r"decoder config has unknown field\(s\) \['rotary'\]"),
    "unknown-model-field": (lambda c: c["model_config"].update(max_latents=8), r"model settings have .*'max_latents'"),
    "no-model-config": (lambda c: _drop(c, "model_config"), r"has no model_config object"),
    "too-many-cross-layers": (lambda c: c["model_config"]["encoder"].update(num_cross_attention_layers=5),
                              r"1 <= num_cross_attention_layers <= num_self_attention_blocks"),
}  # fmt: skip


@pytest.mark.parametrize("case", list(BAD_CONFIGS))
def test_bad_configs_are_one_line_and_write_nothing(tmp_path: Path, capsys: pytest.CaptureFixture, case: str) -> None:
    edit, message = BAD_CONFIGS[case]
    source = FIXTURES / "causal-lm" if edit is None else _copy_with_config(tmp_path, "mlm-unshared", edit)
    status = main(["convert", "perceiver-io", str(source), str(tmp_path / "out"), "--quiet"])
    error = capsys.readouterr().err
    assert status == 1 and len(error.strip().splitlines()) == 1, error
    assert re.search(message, error), error
    assert not (tmp_path / "out").exists()


class NotATensor:
    """A class a weights file has no business referring to."""


def test_bad_weight_files_are_refused(tmp_path: Path) -> None:
    source = tmp_path / "source"
    shutil.copytree(FIXTURES / "mlm-deepmind-like", source)
    state = torch.load(source / "pytorch_model.bin", weights_only=True)
    torch.save({name.replace("backend_model.", "model.", 1): value for name, value in state.items()}, source / "pytorch_model.bin")
    with pytest.raises(ConversionError, match=r"weights outside 'backend_model\.'"):
        convert_perceiver_io_folder(source, tmp_path / "a", progress=False)
    torch.save({**state, "backend_model.extra": NotATensor()}, source / "pytorch_model.bin")
    with pytest.raises(UnsafePickleError, match=r"nothing from the file was run"):
        convert_perceiver_io_folder(source, tmp_path / "b", progress=False)
    torch.save({name: value for name, value in state.items() if "self_attn_1.0.1" not in name}, source / "pytorch_model.bin")
    with pytest.raises(MappingError, match=r"(?s)missing.*self_attention\.layers\.0\.mlp"):
        convert_perceiver_io_folder(source, tmp_path / "c", progress=False)
    (source / "pytorch_model.bin").unlink()
    (source / "pytorch_model.bin.index.json").write_text("{}")
    with pytest.raises(ConversionError, match=r"is sharded \(pytorch_model\.bin\.index\.json\)"):
        convert_perceiver_io_folder(source, tmp_path / "d", progress=False)
    assert not any((tmp_path / name).exists() for name in "abcd")


def test_options_that_belong_to_the_other_format_are_refused(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    status = main(["convert", "perceiver-io", str(FIXTURES / "mlm-unshared"), str(tmp_path / "out"), "--config",
                   str(FIXTURES / "mlm-unshared" / "config.json"), "--quiet"])  # fmt: skip
    assert status == 1 and "--config is for a 0.4 state dict" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_loading_a_library_folder_directly_points_to_the_converter() -> None:
    from perceiver_hf import PerceiverForMaskedLM

    with pytest.raises(ValueError, match=r"perceiver-io library .*perceiver-hf convert perceiver-io SOURCE OUTPUT_DIR"):
        PerceiverForMaskedLM.from_pretrained(FIXTURES / "mlm-unshared")
