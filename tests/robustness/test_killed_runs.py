"""Issue 14 item 4: a killed run leaves nothing half-written, and its leftovers are cleaned by the next run.

SIGTERM removes the temporary folder at once; SIGKILL leaves it, and the next write of the same OUTPUT removes
temporaries of dead processes (never of live ones, never anything else). --force onto a symlink replaces the
folder it names and leaves no backup behind.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from helpers.conversion import TINY_HEADS_ARG
from helpers.sources import haiku_copy  # noqa: F401 (fixtures)
from helpers.tree import changed_outside, tree_snapshot

from perceiver_hf.cli import main
from perceiver_hf.output_folder import write_marker, write_output_folder

WRITE_FOREVER = """
import sys, time
from pathlib import Path
from perceiver_hf.output_folder import write_output_folder

def write(folder):
    (folder / "model.safetensors").write_bytes(b"half")
    Path(sys.argv[2]).write_text("started")
    time.sleep(60)

write_output_folder(sys.argv[1], write)
"""


def _dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def _start_writer(tmp_path: Path) -> subprocess.Popen:
    started = tmp_path / "started"
    child = subprocess.Popen([sys.executable, "-c", WRITE_FOREVER, str(tmp_path / "out"), str(started)])
    for _ in range(600):
        if started.exists() or child.poll() is not None:
            break
        time.sleep(0.1)
    assert started.exists(), "the writer did not start"
    started.unlink()
    return child


def test_sigterm_leaves_nothing(tmp_path: Path) -> None:
    child = _start_writer(tmp_path)
    child.send_signal(signal.SIGTERM)
    assert child.wait(timeout=60) != 0
    assert sorted(p.name for p in tmp_path.iterdir()) == []  # no OUTPUT, no temporary, no lock


def test_sigkill_leftovers_are_removed_by_the_next_run(tmp_path: Path) -> None:
    child = _start_writer(tmp_path)
    child.kill()
    child.wait(timeout=60)
    leftovers = sorted(p.name for p in tmp_path.iterdir())
    assert len(leftovers) == 1 and leftovers[0].startswith(".out.perceiver-hf-tmp-")
    unrelated = tmp_path / ".out.some-other-tool-123"
    unrelated.mkdir()
    alive = tmp_path / f".out.perceiver-hf-tmp-{os.getppid()}-0123abcd"  # a live process's temporary
    alive.mkdir()
    write_output_folder(tmp_path / "out", lambda folder: (folder / "a.txt").write_text("a"))
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([alive.name, unrelated.name, "out"])


def test_stale_lock_of_a_dead_process_is_taken_over(tmp_path: Path) -> None:
    lock = tmp_path / ".out.perceiver-hf-lock"
    lock.mkdir()
    (lock / "pid").write_text(str(_dead_pid()))
    write_output_folder(tmp_path / "out", lambda folder: (folder / "a.txt").write_text("a"))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_force_onto_a_symlink_keeps_the_link_and_leaves_no_backup(haiku_copy: Path, tmp_path: Path) -> None:
    real = tmp_path / "models" / "v1"
    real.mkdir(parents=True)
    write_marker(real)
    (real / "old.txt").write_text("an earlier output")
    link = tmp_path / "link"
    link.symlink_to(real)
    before = tree_snapshot(tmp_path)
    argv = ["convert", "haiku", str(haiku_copy), str(link), "--force", "--quiet", "--config-overrides", TINY_HEADS_ARG]
    assert main(argv) == 0
    assert link.is_symlink() and link.resolve() == real.resolve()
    assert (real / "model.safetensors").is_file() and not (real / "old.txt").exists()
    assert changed_outside(before, tree_snapshot(tmp_path), "models/v1") == []
    assert not [p for p in tmp_path.rglob(".*") if p.name != ".perceiver-hf-output"]
