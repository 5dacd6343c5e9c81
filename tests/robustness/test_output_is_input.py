"""Issue 14 item 1: no command deletes or replaces a file it did not create.

An OUTPUT that is, or contains, an input is refused before anything is read (the message names both paths);
`--force` replaces only a folder perceiver-hf wrote (or an empty one).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from helpers.conversion import TINY_HEADS_ARG
from helpers.sources import haiku_copy, saved_model, transformers_source, transformers_source_template  # noqa: F401 (fixtures)
from helpers.tree import changed_outside, tree_snapshot

from perceiver_hf.cli import main
from perceiver_hf.training.run import run_from_argv

DECLARATION = Path(__file__).resolve().parents[1] / "data" / "english" / "declaration_of_independence.txt"


def _refused(argv: list[str], root: Path, capsys: pytest.CaptureFixture, *names: str) -> str:
    """Run the CLI; assert exit 1, nothing under `root` changed, and that the message names `names`."""
    before = tree_snapshot(root)
    assert main(argv) == 1
    assert changed_outside(before, tree_snapshot(root)) == []
    message = capsys.readouterr().err
    assert len(message.strip().splitlines()) == 1, message
    for name in names:
        assert name in message, message
    return message


@pytest.mark.parametrize("output", ["same folder", "parent folder"])
def test_convert_haiku_into_the_pickle_folder_is_refused(
    haiku_copy: Path, tmp_path: Path, capsys: pytest.CaptureFixture, output: str
) -> None:
    out = haiku_copy.parent if output == "same folder" else tmp_path
    argv = ["convert", "haiku", str(haiku_copy), str(out), "--force", "--quiet", "--config-overrides", TINY_HEADS_ARG]
    message = _refused(argv, tmp_path, capsys, str(out), str(haiku_copy))
    assert "contains the input" in message


def test_convert_transformers_onto_its_source_is_refused(
    transformers_source: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    argv = ["convert", "transformers", str(transformers_source), str(transformers_source), "--force", "--quiet"]
    message = _refused(argv, tmp_path, capsys, str(transformers_source))
    assert "is the input" in message


def test_export_hub_onto_its_model_is_refused(saved_model: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    _refused(["export-hub", str(saved_model), str(saved_model), "--force"], tmp_path, capsys, str(saved_model))


def test_force_does_not_replace_a_folder_perceiver_hf_did_not_write(
    haiku_copy: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    users = tmp_path / "users-folder"
    users.mkdir()
    (users / "thesis.tex").write_text("years of work")
    argv = ["convert", "haiku", str(haiku_copy), str(users), "--force", "--quiet", "--config-overrides", TINY_HEADS_ARG]
    message = _refused(argv, tmp_path, capsys, str(users))
    assert "not written by perceiver-hf" in message and "remove it yourself" in message


def test_force_replaces_a_folder_perceiver_hf_wrote(haiku_copy: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    argv = ["convert", "haiku", str(haiku_copy), str(out), "--quiet", "--config-overrides", TINY_HEADS_ARG]
    assert main(argv) == 0
    (out / "stale.txt").write_text("from an earlier run")
    before = tree_snapshot(tmp_path)
    assert main([*argv, "--force"]) == 0
    assert not (out / "stale.txt").exists() and (out / "model.safetensors").is_file()
    assert changed_outside(before, tree_snapshot(tmp_path), "out") == []


def test_train_into_its_data_folder_is_refused(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    (data / "train.txt").write_text(DECLARATION.read_text())
    before = tree_snapshot(tmp_path)
    argv = ["--preset", "tiny", "--train_file", str(data / "train.txt"), "--output_dir", str(data), "--force",
            "--cache_dir", str(tmp_path / "cache"), "--max_seq_len", "64", "--max_steps", "1"]  # fmt: skip
    with pytest.raises(ValueError, match=r"contains the input .*train\.txt"):
        run_from_argv(argv)
    assert changed_outside(before, tree_snapshot(tmp_path)) == []
