"""Every command that takes a model accepts the shipped model's name (issue 26 item 5): `fill`, `export onnx`
(tests/test_onnx_export.py's shipped_export), `export-hub` and `train` read "perceiver-bytes-small" as the folder
inside the package, unless a local path of that name exists. Reference: `perceiver_hf.pretrained_model_path`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from perceiver_hf import pretrained_model_path
from perceiver_hf.cli import main
from perceiver_hf.model_location import resolve_shipped_model
from perceiver_hf.pretrained import DEFAULT_MODEL
from perceiver_hf.training.parsing import parse_train_args


def test_fill_by_name(capsys) -> None:
    text = "The capital of France is Pa[MASK][MASK][MASK]."
    assert main(["fill", str(pretrained_model_path()), text]) == 0
    by_path = capsys.readouterr().out
    assert main(["fill", DEFAULT_MODEL, text]) == 0
    assert capsys.readouterr().out == by_path and by_path.startswith("The capital of France is Pa")


def test_export_hub_by_name(tmp_path: Path) -> None:
    out = tmp_path / "hub"
    assert main(["export-hub", DEFAULT_MODEL, str(out)]) == 0
    shipped = json.loads((pretrained_model_path() / "config.json").read_text(encoding="utf-8"))
    written = json.loads((out / "config.json").read_text(encoding="utf-8"))
    assert written["num_latents"] == shipped["num_latents"] and (out / "model.safetensors").is_file()


@pytest.mark.parametrize(
    "flag, more", [("--model_name_or_path", []), ("--tokenizer_name", ["--preset", "tiny"]), ("--config_name", [])]
)
def test_train_arguments_by_name(tmp_path: Path, flag: str, more: list[str]) -> None:
    data = tmp_path / "train.txt"
    data.write_text("some text\n", encoding="utf-8")
    argv = [flag, DEFAULT_MODEL, *more, "--train_file", str(data), "--output_dir", str(tmp_path / "run")]
    arguments = parse_train_args(argv)
    assert getattr(arguments.model, flag.removeprefix("--")) == str(pretrained_model_path())


def test_a_local_folder_of_that_name_wins(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / DEFAULT_MODEL).mkdir()
    assert resolve_shipped_model(DEFAULT_MODEL) == DEFAULT_MODEL
    assert resolve_shipped_model("someone/else") == "someone/else"
