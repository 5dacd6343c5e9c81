"""Every command that reads a saved MODEL answers a missing path, a file, a folder that is not a saved model and
a folder of another model type in one line on stderr, with a non-zero exit and nothing written (issue 26 item 3;
`export onnx` and `export-hub` printed huggingface_hub's HFValidationError tracebacks for the first two).
References: the rules of `perceiver_hf.model_location.check_local_model`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from perceiver_hf.cli import main

COMMANDS = {
    "fill": lambda model, out: ["fill", model, "some [MASK] text"],
    "classify": lambda model, out: ["classify", model, "some text"],
    "export onnx": lambda model, out: ["export", "onnx", model, out],
    "export-hub": lambda model, out: ["export-hub", model, out],
}


def bad_models(tmp_path: Path) -> dict[str, tuple[str, str]]:
    """name -> (MODEL argument, what the one line must say)."""
    a_file = tmp_path / "weights.bin"
    a_file.write_bytes(b"\0" * 8)
    empty = tmp_path / "empty_folder"
    empty.mkdir()
    bert = tmp_path / "bert_folder"
    bert.mkdir()
    (bert / "config.json").write_text(json.dumps({"model_type": "bert"}), encoding="utf-8")
    broken = tmp_path / "broken_folder"
    broken.mkdir()
    (broken / "config.json").write_bytes(b"\xff{not json")
    return {
        "missing": (str(tmp_path / "no" / "such" / "model"), "does not exist"),
        "file": (str(a_file), "is a file"),
        "no config": (str(empty), "has no config.json"),
        "other model type": (str(bert), "model_type 'bert'"),
        "unreadable config": (str(broken), "cannot read"),
    }


@pytest.mark.parametrize("command", sorted(COMMANDS))
@pytest.mark.parametrize("case", ["missing", "file", "no config", "other model type", "unreadable config"])
def test_a_bad_model_argument_is_one_line(tmp_path, capsys, command: str, case: str) -> None:
    model, expected = bad_models(tmp_path)[case]
    out = tmp_path / "out"
    before = sorted(p.name for p in tmp_path.iterdir())
    code = main(COMMANDS[command](model, str(out)))
    err = capsys.readouterr().err.strip()
    assert code != 0
    assert len(err.splitlines()) == 1 and err.startswith(f"perceiver-hf {command}: error:"), err
    assert expected in err, err
    assert sorted(p.name for p in tmp_path.iterdir()) == before  # nothing written


def failing_command(monkeypatch, error: BaseException) -> None:
    """Make `perceiver-hf fill` fail with `error` once its checks passed (as an unforeseen failure would)."""
    from perceiver_hf.cli import fill

    def run(args) -> int:
        raise error

    monkeypatch.setattr(fill, "run", run)
    monkeypatch.setattr(fill, "precheck", lambda args: 0)


def test_an_unexpected_error_is_one_line_at_the_command_boundary(monkeypatch, capsys) -> None:
    failing_command(monkeypatch, RuntimeError("deep inside torch:\n  shape [2, 3] vs [3]"))
    monkeypatch.delenv("PERCEIVER_HF_TRACEBACK", raising=False)
    assert main(["fill", "some [MASK] text"]) == 1
    err = capsys.readouterr().err.strip()
    assert err.splitlines() == [err] and err.startswith("perceiver-hf fill: error: RuntimeError: deep inside torch:")
    assert "PERCEIVER_HF_TRACEBACK=1" in err


def test_the_traceback_variable_lets_the_error_through(monkeypatch) -> None:
    failing_command(monkeypatch, RuntimeError("boom"))
    monkeypatch.setenv("PERCEIVER_HF_TRACEBACK", "1")
    with pytest.raises(RuntimeError, match="boom"):
        main(["fill", "some [MASK] text"])


def test_ctrl_c_is_exit_130(monkeypatch, capsys) -> None:
    failing_command(monkeypatch, KeyboardInterrupt())
    assert main(["fill", "some [MASK] text"]) == 130
    assert capsys.readouterr().err.strip() == "perceiver-hf fill: interrupted."


FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
DECLARATION = Path(__file__).resolve().parents[1] / "data" / "english" / "declaration_of_independence.txt"
WRITERS = {  # command -> argv with OUTPUT last or after --output_dir (valid inputs, so only OUTPUT is wrong)
    "convert haiku": lambda out: ["convert", "haiku", str(FIXTURES / "haiku-tiny" / "params.pickle"), out, "--quiet"],
    "convert perceiver-io": lambda out: [
        "convert", "perceiver-io", str(FIXTURES / "perceiver_io_hf" / "mlm-deepmind-like"), out, "--quiet"],
    "export onnx": lambda out: ["export", "onnx", "perceiver-bytes-small", out],
    "export-hub": lambda out: ["export-hub", "perceiver-bytes-small", out],
    "train": lambda out: ["train", "--preset", "tiny", "--train_file", str(DECLARATION), "--output_dir", out,
                          "--max_steps", "1", "--report_to", "none"],
}


@pytest.mark.parametrize("command", sorted(WRITERS))
@pytest.mark.parametrize("place", ["under a file", "on a file system that takes no folders"])
def test_an_unwritable_output_is_one_line_before_any_work(tmp_path, capsys, command: str, place: str) -> None:
    a_file = tmp_path / "a_file"
    a_file.write_text("mine\n", encoding="utf-8")
    out = str(a_file / "out") if place == "under a file" else "/proc/perceiver-hf-test/out"
    code = main(WRITERS[command](out))
    captured = capsys.readouterr()
    errors = [line for line in captured.err.splitlines() if "error:" in line]
    assert code != 0 and len(errors) == 1 and "Traceback" not in captured.err, captured.err
    assert "OUTPUT" in errors[0] and ("is a file, not a folder" in errors[0] or "cannot be written" in errors[0])
    assert "unexpected" not in errors[0]  # answered by the output-folder check, not by the last-resort boundary
    assert a_file.read_text(encoding="utf-8") == "mine\n" and sorted(p.name for p in tmp_path.iterdir()) == ["a_file"]


CONVERTERS = {
    "convert haiku": lambda source, out: ["convert", "haiku", source, out, "--quiet"],
    "convert transformers": lambda source, out: ["convert", "transformers", source, out, "--quiet"],
    "convert perceiver-io": lambda source, out: ["convert", "perceiver-io", source, out, "--quiet"],
}
EXPECTED = {  # (converter, case) -> what its one line names
    ("convert haiku", "missing"): "does not exist",
    ("convert haiku", "folder instead of file"): "is a folder, not the pickle file",
    ("convert haiku", "other kind"): "as a pickle",
    ("convert transformers", "missing"): "does not exist",
    ("convert transformers", "file instead of folder"): "is a file",
    ("convert transformers", "other kind"): "model_type 'bert'",
    ("convert perceiver-io", "missing"): "does not exist",
    ("convert perceiver-io", "file instead of folder"): "weights.bin",
    ("convert perceiver-io", "other kind"): "model_type 'bert'",
}


@pytest.mark.parametrize("converter, case", sorted(EXPECTED))
def test_a_bad_source_is_one_line_and_writes_nothing(tmp_path, capsys, converter: str, case: str) -> None:
    sources = bad_models(tmp_path)
    source = {
        "missing": sources["missing"][0],
        "file instead of folder": sources["file"][0],
        "folder instead of file": sources["no config"][0],
        "other kind": sources["other model type"][0] if converter != "convert haiku" else sources["file"][0],
    }[case]
    before = sorted(p.name for p in tmp_path.iterdir())
    code = main(CONVERTERS[converter](source, str(tmp_path / "out")))
    captured = capsys.readouterr()
    errors = [line for line in captured.err.splitlines() if "error:" in line]
    assert code != 0 and len(errors) == 1 and "Traceback" not in captured.err, captured.err
    assert EXPECTED[(converter, case)] in errors[0] and "unexpected" not in errors[0], errors[0]
    assert sorted(p.name for p in tmp_path.iterdir()) == before
