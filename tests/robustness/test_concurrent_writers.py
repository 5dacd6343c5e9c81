"""Issue 14 item 2: of two writers of one OUTPUT, exactly one wins; the loser exits non-zero and says why."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from helpers.conversion import TINY_HEADS_ARG
from helpers.sources import haiku_copy  # noqa: F401 (fixtures)
from helpers.tree import changed_outside, tree_snapshot

from perceiver_hf import output_folder
from perceiver_hf.output_folder import OutputFolderError, write_output_folder


def _write_file(name: str, text: str):
    def write(folder: Path) -> None:
        (folder / name).write_text(text)

    return write


def test_two_converters_at_once_one_wins(haiku_copy: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    command = [sys.executable, "-m", "perceiver_hf.cli", "convert", "haiku", str(haiku_copy), str(out), "--quiet",
               "--config-overrides", TINY_HEADS_ARG]  # fmt: skip
    before = tree_snapshot(tmp_path)
    children = [subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in "ab"]
    results = [(child.wait(timeout=300), *child.communicate()) for child in children]
    assert sorted(code for code, _, _ in results) == [0, 1], results
    loser_message = next(err for code, _, err in results if code == 1)
    assert str(out) in loser_message and ("another process" in loser_message or "already holds" in loser_message)
    assert (out / "model.safetensors").is_file()
    assert changed_outside(before, tree_snapshot(tmp_path), "out") == []


def test_a_folder_written_meanwhile_is_kept(tmp_path: Path) -> None:
    """The final move re-checks OUTPUT: one written by another process during this write wins."""
    out = tmp_path / "out"

    def slow_write(folder: Path) -> None:
        (folder / "mine.txt").write_text("late")
        write_output_folder(out, _write_file("theirs.txt", "first"))  # another writer finishes first

    with pytest.raises(OutputFolderError, match="another process wrote OUTPUT .*out"):
        write_output_folder(out, slow_write)
    assert (out / "theirs.txt").read_text() == "first" and not (out / "mine.txt").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_a_live_writers_lock_is_respected(tmp_path: Path) -> None:
    out = tmp_path / "out"
    lock = tmp_path / ".out.perceiver-hf-lock"
    lock.mkdir()
    (lock / "pid").write_text(str(output_folder.os.getppid()))  # a live process (our parent)
    with pytest.raises(OutputFolderError, match=r"another process \(pid \d+\) is writing OUTPUT"):
        write_output_folder(out, _write_file("a.txt", "a"))
    assert not out.exists() and lock.is_dir()
