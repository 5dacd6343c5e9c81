"""`perceiver-hf export onnx` (issue 17 items 3 and 6): the written graph runs in onnxruntime with dynamic
batch/length and matches the torch model (the shipped model, a tiny config with external weights) and
DeepMind's own logits (the converted Haiku fixture); onnx_fill.py fills masks without importing torch; bad
inputs fail with one line. References: the eager torch model, tests/fixtures/haiku-tiny/logits.npz,
transformers' fill-mask pipeline."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import onnxruntime
import pytest
import torch
from conftest import make_tiny_config, randomize_
from helpers.conversion import TINY_HEADS, TOLERANCE
from transformers import AutoTokenizer, BertConfig, BertForMaskedLM, pipeline

from perceiver_hf import PerceiverByteTokenizer, PerceiverForMaskedLM, pretrained_model_path
from perceiver_hf.pretrained import DEFAULT_MODEL  # the shipped model by name, as a user types it
from perceiver_hf.cli import main
from perceiver_hf.convert import convert_haiku_checkpoint
from perceiver_hf.deploy import onnx_export
from perceiver_hf.deploy.onnx_export import OnnxExportError, export_onnx
from perceiver_hf.output_folder import OutputFolderError


def run_onnx(folder: Path, inputs: dict[str, np.ndarray], model_file: str = "model.onnx") -> np.ndarray:
    session = onnxruntime.InferenceSession(str(folder / model_file), providers=["CPUExecutionProvider"])
    return session.run(["logits"], inputs)[0]


def all_positions(input_ids: np.ndarray) -> np.ndarray:
    batch_size, seq_len = input_ids.shape
    return np.broadcast_to(np.arange(seq_len), (batch_size, seq_len)).astype(np.int64).copy()


@pytest.fixture(scope="module")
def shipped_export(tmp_path_factory) -> tuple[Path, str]:
    """The shipped model exported through the command line, with int8; (folder, printed output)."""
    folder = tmp_path_factory.mktemp("onnx") / "shipped"
    from contextlib import redirect_stdout
    from io import StringIO

    printed = StringIO()
    with redirect_stdout(printed):
        assert main(["export", "onnx", DEFAULT_MODEL, str(folder), "--quantize", "int8"]) == 0
    return folder, printed.getvalue()


def test_shipped_model_folder_and_printed_difference(shipped_export) -> None:
    folder, printed = shipped_export
    names = {p.name for p in folder.iterdir()}
    assert {"model.onnx", "model_int8.onnx", "config.json", "tokenizer.json", "tokenizer_config.json",
            "README.md", "onnx_fill.py", ".perceiver-hf-output"} <= names
    difference = float(printed.split("max abs logit difference ")[1].split()[0])
    assert 0 <= difference <= 1e-4
    card = (folder / "README.md").read_text()
    assert "## Running with ONNX Runtime" in card and "onnx_fill.py" in card
    assert card.startswith((pretrained_model_path() / "README.md").read_text().split("\n")[0])  # source card kept
    session = onnxruntime.InferenceSession(str(folder / "model.onnx"), providers=["CPUExecutionProvider"])
    assert [i.shape for i in session.get_inputs()] == [["batch", "sequence"], ["batch", "sequence"],
                                                       ["batch", "positions"]]


def test_shipped_model_matches_torch_on_a_batch_of_real_text(shipped_export) -> None:
    folder, _ = shipped_export
    tokenizer = AutoTokenizer.from_pretrained(folder)
    encoded = tokenizer(["The cat sat on the mat.", "A much longer sentence about the weather, today."],
                        padding=True, return_tensors="np")
    inputs = {"input_ids": encoded["input_ids"].astype(np.int64),
              "attention_mask": encoded["attention_mask"].astype(np.int64)}
    inputs["output_positions"] = all_positions(inputs["input_ids"])
    model = PerceiverForMaskedLM.from_pretrained(pretrained_model_path()).eval()
    with torch.no_grad():
        expected = model(**{k: torch.from_numpy(v) for k, v in inputs.items()}).logits.numpy()
    valid = inputs["attention_mask"].astype(bool)
    assert np.abs(run_onnx(folder, inputs) - expected)[valid].max() <= 1e-4
    int8 = run_onnx(folder, inputs, "model_int8.onnx")
    assert (int8.argmax(-1) == expected.argmax(-1))[valid].mean() >= 0.9  # quantized: close, not equal


def test_onnx_fill_runs_without_torch_and_agrees_with_the_pipeline(shipped_export) -> None:
    folder, _ = shipped_export
    texts = ["Some words are m[MASK]ssing.", "The [MASK]at sat on the [MASK]at."]
    probe = (
        "import json, sys\n"
        f"sys.path.insert(0, {str(folder)!r})\n"
        "from onnx_fill import OnnxFillMask\n"
        f"result = OnnxFillMask({str(folder)!r})({texts!r}, top_k=3)\n"
        "print(json.dumps({'torch': 'torch' in sys.modules, 'perceiver_hf': 'perceiver_hf' in sys.modules,"
        " 'result': result}))\n"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["torch"] is False and report["perceiver_hf"] is False
    fill = pipeline("fill-mask", model=str(pretrained_model_path()))
    for text, per_mask in zip(texts, report["result"]):
        expected = fill(text, top_k=3)
        expected = [expected] if isinstance(expected[0], dict) else expected
        assert len(per_mask) == len(expected) == text.count("[MASK]")
        for ours, theirs in zip(per_mask, expected):
            assert [token for token, _ in ours] == [p["token_str"] for p in theirs]
            assert np.allclose([p for _, p in ours], [p["score"] for p in theirs], atol=1e-4)


def test_converted_haiku_fixture_reproduces_deepmind_logits_in_onnxruntime(haiku_tiny_dir, tmp_path) -> None:
    converted = convert_haiku_checkpoint(
        haiku_tiny_dir / "params.pickle", tmp_path / "converted", config_overrides=TINY_HEADS, progress=False
    )
    model = PerceiverForMaskedLM.from_pretrained(converted)
    export_onnx(model, tmp_path / "onnx", AutoTokenizer.from_pretrained(converted))
    fixture = np.load(haiku_tiny_dir / "inputs.npz")
    inputs = {"input_ids": fixture["input_ids"].astype(np.int64), "attention_mask": fixture["input_mask"].astype(np.int64)}
    inputs["output_positions"] = all_positions(inputs["input_ids"])
    reference = np.load(haiku_tiny_dir / "logits.npz")["logits"]  # DeepMind's Haiku model, [3, 128, 262]
    valid = inputs["attention_mask"].astype(bool)
    assert np.abs(run_onnx(tmp_path / "onnx", inputs) - reference)[valid].max() <= TOLERANCE


def test_tiny_config_with_external_weights_and_dynamic_shapes(tmp_path) -> None:
    torch.manual_seed(0)
    model = randomize_(PerceiverForMaskedLM(make_tiny_config())).eval()
    report = export_onnx(model, tmp_path / "onnx", PerceiverByteTokenizer(model_max_length=128), external_data=True,
                         opset=18)
    assert report.opset == 18 and report.max_abs_diff <= 1e-4
    assert (tmp_path / "onnx" / "model.onnx.data").stat().st_size > (tmp_path / "onnx" / "model.onnx").stat().st_size
    generator = torch.Generator().manual_seed(5)
    for batch_size, seq_len, num_positions in [(1, 3, 1), (6, 128, 7), (2, 50, 50)]:
        ids = torch.randint(0, 262, (batch_size, seq_len), generator=generator)
        mask = torch.ones_like(ids)
        mask[0, seq_len // 2 + 1:] = 0
        positions = torch.randint(0, seq_len, (batch_size, num_positions), generator=generator)
        with torch.no_grad():
            expected = model(input_ids=ids, attention_mask=mask, output_positions=positions).logits.numpy()
        got = run_onnx(tmp_path / "onnx", {"input_ids": ids.numpy(), "attention_mask": mask.numpy(),
                                           "output_positions": positions.numpy()})
        assert got.shape == expected.shape and np.abs(got - expected).max() <= 1e-4


# --- bad input: one clear line each ------------------------------------------------------------------------


def cli_error(capsys, argv: list[str]) -> str:
    capsys.readouterr()  # drop what the test's own setup printed
    code = main(argv)
    err = capsys.readouterr().err.strip()
    assert code != 0 and len(err.splitlines()) == 1, err
    return err


def test_a_model_type_that_is_not_ours(tmp_path, capsys) -> None:
    bert = tmp_path / "bert"
    BertForMaskedLM(BertConfig(vocab_size=50, hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
                               intermediate_size=16)).save_pretrained(bert)
    err = cli_error(capsys, ["export", "onnx", str(bert), str(tmp_path / "out")])
    assert "'bert'" in err and "perceiver_io" in err
    with pytest.raises(OnnxExportError, match=r"PerceiverForMaskedLM.*got BertForMaskedLM \(model_type 'bert'\)"):
        export_onnx(BertForMaskedLM.from_pretrained(bert), tmp_path / "out2", None)
    assert not (tmp_path / "out").exists() and not (tmp_path / "out2").exists()


def test_a_perceiver_model_without_its_head(tmp_path) -> None:
    from perceiver_hf import PerceiverModel

    with pytest.raises(OnnxExportError, match=r"PerceiverModel has no LM head"):
        export_onnx(PerceiverModel(make_tiny_config()), tmp_path / "out", None)


@pytest.mark.parametrize("head", ["PerceiverForSequenceClassification", "PerceiverForTokenClassification"])
def test_a_classifier_folder_is_refused_in_one_line(tmp_path, capsys, head: str) -> None:
    import perceiver_hf

    folder = tmp_path / "classifier"
    getattr(perceiver_hf, head)(make_tiny_config(num_labels=3)).save_pretrained(folder)
    err = cli_error(capsys, ["export", "onnx", str(folder), str(tmp_path / "out")])
    assert f"{head} has no LM head" in err and "PerceiverForMaskedLM" in err
    assert not (tmp_path / "out").exists()


def test_an_existing_output_folder_follows_the_converter_rules(shipped_export, tmp_path, capsys) -> None:
    folder, _ = shipped_export
    model = str(pretrained_model_path())
    err = cli_error(capsys, ["export", "onnx", model, str(folder)])
    assert "already holds a perceiver-hf output" in err and "--force" in err
    foreign = tmp_path / "mine"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("keep me")
    err = cli_error(capsys, ["export", "onnx", model, str(foreign), "--force"])
    assert "not written by perceiver-hf" in err and (foreign / "notes.txt").read_text() == "keep me"


@pytest.mark.parametrize("opset", ["13", "17", "99"])
def test_an_opset_that_cannot_express_the_graph(tmp_path, capsys, opset: str) -> None:
    err = cli_error(capsys, ["export", "onnx", str(pretrained_model_path()), str(tmp_path / "out"), "--opset", opset])
    assert f"opset {opset} cannot express this graph" in err and "--opset between 18 and" in err
    assert not (tmp_path / "out").exists()


def test_onnxruntime_missing(tmp_path, capsys, monkeypatch) -> None:
    real_find_spec = onnx_export.importlib.util.find_spec
    monkeypatch.setattr(onnx_export.importlib.util, "find_spec",
                        lambda name, *a: None if name == "onnxruntime" else real_find_spec(name, *a))
    err = cli_error(capsys, ["export", "onnx", str(pretrained_model_path()), str(tmp_path / "out")])
    assert "needs onnxruntime" in err and "pip install 'perceiver-hf[onnx]'" in err


def test_a_graph_that_does_not_match_torch_is_not_written(tmp_path, monkeypatch) -> None:
    monkeypatch.setattr(onnx_export, "TOLERANCE", 0.0)  # any float32 noise is now a mismatch
    model = PerceiverForMaskedLM.from_pretrained(pretrained_model_path())
    with pytest.raises(OnnxExportError, match=r"differ from torch's by .* nothing was written"):
        export_onnx(model, tmp_path / "out", None)
    assert not (tmp_path / "out").exists() and list(tmp_path.iterdir()) == []


def test_the_output_folder_may_not_hold_the_model(tmp_path) -> None:
    model = PerceiverForMaskedLM(make_tiny_config())
    model.save_pretrained(tmp_path / "m")
    with pytest.raises(OutputFolderError):
        export_onnx(model, tmp_path, None, inputs=[tmp_path / "m"])


def test_an_opset_the_converter_cannot_reach(tmp_path, monkeypatch) -> None:
    monkeypatch.setattr(onnx_export, "MIN_OPSET", 9)  # let 17 through to onnx's version converter
    model = PerceiverForMaskedLM.from_pretrained(pretrained_model_path())
    with pytest.raises(OnnxExportError, match=r"^opset 17 cannot express this graph \(onnx's version converter"):
        export_onnx(model, tmp_path / "out", None, opset=17)
    assert not (tmp_path / "out").exists()
