"""Markers and locks of output folders are never followed through symlinks (issue 26 item 4): a marker that is a
link does not make a foreign folder perceiver-hf's own, a symlink in the lock's place is not taken for another
process's lock, and a stale lock of a process that no longer runs is cleared and reported. References: the
rules of `perceiver_hf.output_folder` (its module docstring); the foreign folder's bytes before and after."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest

from perceiver_hf import output_folder
from perceiver_hf.output_folder import MARKER_NAME, OutputFolderError, write_output_folder


def write_hello(folder: Path) -> None:
    (folder / "hello.txt").write_text("new\n", encoding="utf-8")


def lock_of(target: Path) -> Path:
    return target.parent / f".{target.name}.perceiver-hf-lock"


def dead_pid() -> int:
    """The pid of a process that has exited (and been reaped)."""
    child = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    return int(child.stdout)


def test_a_symlinked_marker_does_not_make_a_foreign_folder_ours(tmp_path: Path) -> None:
    ours = tmp_path / "ours"
    write_output_folder(ours, write_hello)  # a real perceiver-hf folder, whose marker the link points at
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "precious.txt").write_text("keep me\n", encoding="utf-8")
    (foreign / MARKER_NAME).symlink_to(ours / MARKER_NAME)
    with pytest.raises(OutputFolderError, match="not written by perceiver-hf"):
        write_output_folder(foreign, write_hello, force=True)
    assert (foreign / "precious.txt").read_text(encoding="utf-8") == "keep me\n"
    assert not (foreign / "hello.txt").exists()


def test_a_stale_lock_is_cleared_and_reported(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    target = tmp_path / "out"
    lock = lock_of(target)
    lock.mkdir()
    pid = dead_pid()
    (lock / "pid").write_text(str(pid), encoding="utf-8")
    with caplog.at_level(logging.WARNING, logger="perceiver_hf.output_folder"):
        write_output_folder(target, write_hello)
    assert (target / "hello.txt").is_file() and not lock.exists()
    assert f"stale lock {lock} of process {pid}" in caplog.text


def test_a_symlink_in_the_lock_place_is_dropped_without_touching_what_it_names(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    target = tmp_path / "out"
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "pid").write_text(str(os.getpid()), encoding="utf-8")  # would read as a live owner if followed
    lock_of(target).symlink_to(elsewhere, target_is_directory=True)
    with caplog.at_level(logging.WARNING, logger="perceiver_hf.output_folder"):
        write_output_folder(target, write_hello)
    assert (target / "hello.txt").is_file()
    assert not lock_of(target).is_symlink() and (elsewhere / "pid").is_file()
    assert "a symlink where perceiver-hf keeps its lock" in caplog.text


def test_a_symlink_appearing_in_the_lock_place_mid_run_is_named(tmp_path: Path, monkeypatch) -> None:
    target = tmp_path / "out"
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.setattr(output_folder, "remove_stale_leftovers", lambda target: [])  # the link arrives after it

    def write_and_link(folder: Path) -> None:
        write_hello(folder)
        lock_of(target).symlink_to(elsewhere, target_is_directory=True)

    with pytest.raises(OutputFolderError, match=r"is a symlink where perceiver-hf keeps the lock.*Remove the link"):
        write_output_folder(target, write_and_link)
    assert not target.exists()
