"""Atomic output: a conversion either produces the complete folder or leaves everything as it was."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from helpers.conversion import TINY_HEADS, folder_snapshot, hidden_leftovers
from transformers import AutoModelForMaskedLM

from perceiver_hf.convert import OutputDirError, convert_haiku_checkpoint
from perceiver_hf.convert import writer
from perceiver_hf import output_folder

FOLDER_FILES = ["README.md", "config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json"]


class DiskFull(OSError):
    pass


def _convert(haiku_tiny_dir: Path, out: Path, force: bool = False, pickle_name: str = "params.pickle") -> Path:
    pickle_path = haiku_tiny_dir / pickle_name
    return convert_haiku_checkpoint(pickle_path, out, config_overrides=TINY_HEADS, force=force, progress=False)


def _fail_while_saving(monkeypatch: pytest.MonkeyPatch, error: BaseException) -> None:
    """Make writing model.safetensors leave a partial file and then fail, as a full disk or Ctrl-C would."""

    def save_file(tensors: dict, filename: str, metadata: dict) -> None:
        Path(filename).write_bytes(b"half a file")
        raise error

    monkeypatch.setattr(writer, "save_file", save_file)


def visible(folder: Path) -> list[str]:
    """The files of `folder` a user sees (without perceiver-hf's hidden marker)."""
    return sorted(path.name for path in folder.iterdir() if path.name != output_folder.MARKER_NAME)


@pytest.fixture
def previous(tmp_path: Path) -> Path:
    """A non-empty OUTPUT_DIR that perceiver-hf wrote (it has the marker), with a file and a sub-folder."""
    out = tmp_path / "out"
    (out / "notes").mkdir(parents=True)
    output_folder.write_marker(out)
    (out / "keep.txt").write_text("an earlier output's file")
    (out / "notes" / "n.md").write_text("more")
    return out


@pytest.mark.parametrize("error", [DiskFull("No space left on device"), KeyboardInterrupt()])
def test_failure_mid_write_leaves_nothing(
    haiku_tiny_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, error: BaseException
) -> None:
    _fail_while_saving(monkeypatch, error)
    with pytest.raises(type(error)):
        _convert(haiku_tiny_dir, tmp_path / "new" / "deeper" / "out")
    assert list(tmp_path.iterdir()) == []  # neither the folder nor the parents created for it


def test_failure_with_force_keeps_the_previous_contents(
    haiku_tiny_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, previous: Path
) -> None:
    before = folder_snapshot(previous)
    _fail_while_saving(monkeypatch, DiskFull("No space left on device"))
    with pytest.raises(DiskFull):
        _convert(haiku_tiny_dir, previous, force=True)
    assert folder_snapshot(previous) == before
    assert hidden_leftovers(tmp_path) == []


def test_failed_rename_restores_the_previous_contents(
    haiku_tiny_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, previous: Path
) -> None:
    before = folder_snapshot(previous)
    real_rename = os.rename

    def rename(source: str, target: str) -> None:
        if ".perceiver-hf-tmp-" in Path(source).name:
            raise OSError("rename failed")
        real_rename(source, target)

    monkeypatch.setattr(os, "rename", rename)
    with pytest.raises(OSError, match="rename failed"):
        _convert(haiku_tiny_dir, previous, force=True)
    assert folder_snapshot(previous) == before
    assert hidden_leftovers(tmp_path) == []


def test_non_empty_output_is_refused_before_any_work(haiku_tiny_dir: Path, previous: Path) -> None:
    before = folder_snapshot(previous)
    with pytest.raises(OutputDirError, match="already holds a perceiver-hf output.*--force"):
        _convert(haiku_tiny_dir, previous, pickle_name="no-such-file.pickle")  # the pickle is never opened
    assert folder_snapshot(previous) == before


def test_force_replaces_the_folder_only_once_the_new_one_is_complete(
    haiku_tiny_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, previous: Path
) -> None:
    real_move = output_folder._move_into_place

    def move(staging: Path, plan: output_folder.OutputPlan) -> None:
        assert visible(staging) == FOLDER_FILES
        assert (plan.target / "keep.txt").read_text() == "an earlier output's file"
        real_move(staging, plan)

    monkeypatch.setattr(output_folder, "_move_into_place", move)
    _convert(haiku_tiny_dir, previous, force=True)
    assert visible(previous) == FOLDER_FILES
    assert hidden_leftovers(tmp_path) == []
    AutoModelForMaskedLM.from_pretrained(previous)


def test_empty_folder_is_used_and_a_file_is_refused(haiku_tiny_dir: Path, tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    _convert(haiku_tiny_dir, tmp_path / "empty")
    assert visible(tmp_path / "empty") == FOLDER_FILES
    (tmp_path / "file").write_text("x")
    with pytest.raises(OutputDirError, match="is not a folder"):
        _convert(haiku_tiny_dir, tmp_path / "file", force=True)
    assert (tmp_path / "file").read_text() == "x"


def test_weights_get_the_same_permissions_as_the_other_files(haiku_tiny_dir: Path, tmp_path: Path) -> None:
    out = _convert(haiku_tiny_dir, tmp_path / "out")
    modes = {name: (out / name).stat().st_mode & 0o777 for name in FOLDER_FILES}
    assert len(set(modes.values())) == 1, modes
