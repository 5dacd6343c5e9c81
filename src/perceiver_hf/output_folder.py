"""The one way perceiver-hf writes an output folder (convert, export-hub, train): never lose a user's file.

Rules, in the order they are applied:

1. An OUTPUT that is, or contains, one of the command's inputs is refused before anything is read.
2. A non-empty OUTPUT is refused unless `force`; `force` only replaces a folder this package wrote (it holds
   the marker file `.perceiver-hf-output`) or an empty one. Anything else the user removes by hand.
3. The new folder is written into a hidden sibling, `.NAME.perceiver-hf-tmp-PID-XXXXXXXX`, and moved into
   place at the end under an exclusive lock (`.NAME.perceiver-hf-lock`, created with `os.mkdir`). Under the
   lock the target is checked again: if another process wrote it meanwhile, this one fails (exit 1) and
   leaves the other's result alone.
4. SIGTERM during the write is turned into an exception, so the temporary folder is removed. A run killed
   with SIGKILL leaves its temporary folder; the next run writing next to it removes temporaries and locks
   whose process (PID) is dead, never those of a live process, never anything without the pattern above.
5. A symlinked OUTPUT is written where it points: the link stays, the folder it names is replaced.

See docs/safety.md for what a killed run leaves and how it is cleaned.
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import signal
import socket
import tempfile
import time
import uuid
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, Iterator, Optional, Union

logger = logging.getLogger(__name__)

MARKER_NAME = ".perceiver-hf-output"
"""The file every folder written by perceiver-hf holds; `force` replaces only folders that have it."""

_TAG = "perceiver-hf"
_LEFTOVER = re.compile(r"^\.(?P<name>.+)\.perceiver-hf-(?P<kind>tmp|old)-(?P<pid>\d+)-[0-9a-f]{8}$")

PathLike = Union[str, "os.PathLike[str]"]


class OutputFolderError(ValueError):
    """OUTPUT cannot be written: it is or holds an input, is a file, is not empty (and not ours), or was taken."""


def _real(path: PathLike) -> Path:
    return Path(os.path.realpath(os.path.abspath(os.fspath(path))))


def is_within(inner: PathLike, outer: PathLike) -> bool:
    """True if `inner` is `outer` or lies below it (symlinks resolved)."""
    inner, outer = _real(inner), _real(outer)
    return inner == outer or outer in inner.parents


def _regular_file(path: Path) -> bool:
    """A regular file, not a symlink to one (markers and lock files are never followed through links)."""
    return path.is_file() and not path.is_symlink()


def is_package_folder(folder: Path) -> bool:
    """True if `folder` was written by perceiver-hf (it holds the marker file)."""
    return _regular_file(folder / MARKER_NAME)


def _state(folder: Path) -> Optional[str]:
    """What is at `folder` now: None (nothing or an empty folder), the marker's text (ours), or "foreign"."""
    if not folder.is_dir():
        return "foreign" if folder.exists() else None
    if not any(folder.iterdir()):
        return None
    return (folder / MARKER_NAME).read_text(encoding="utf-8") if is_package_folder(folder) else "foreign"


def refuse_inputs_inside(target: PathLike, shown: str, inputs: Iterable[Optional[PathLike]]) -> None:
    """Raise `OutputFolderError` if the folder `target` (named `shown` to the user) is or contains an input."""
    target = _real(target)
    for source in inputs:
        if source is None or not os.path.exists(os.fspath(source)):
            continue
        if is_within(source, target):
            what = "is" if _real(source) == target else "contains"
            raise OutputFolderError(
                f"OUTPUT {shown!r} {what} the input {os.fspath(source)!r}; writing there would destroy it. "
                "Choose an output folder outside the input."
            )


@dataclass(frozen=True)
class OutputPlan:
    """A checked OUTPUT: where the user named it, where it really is, and what was there when checked."""

    path: Path  # absolute, as the user named it (a symlink stays a symlink)
    target: Path  # the real folder written (the symlink's target)
    expected: Optional[str]  # `_state(target)` at check time; the final move requires it unchanged
    shown: str


def _check_writable(target: Path, shown: str) -> None:
    """Refuse an OUTPUT whose place cannot be written (a read-only or virtual file system, a file as a parent):
    a probe folder is created in the nearest existing ancestor and removed at once."""
    ancestor = target.parent
    while not ancestor.exists() and ancestor != ancestor.parent:
        ancestor = ancestor.parent
    if not ancestor.is_dir():
        raise OutputFolderError(f"OUTPUT {shown!r} cannot be created: {str(ancestor)!r} is a file, not a folder.")
    try:
        probe = tempfile.mkdtemp(prefix=f".{_TAG}-probe-", dir=ancestor)
    except OSError as error:
        raise OutputFolderError(
            f"OUTPUT {shown!r} cannot be written: {ancestor} does not accept new folders ({error.strerror or error}). "
            "Choose a folder on a writable disk."
        ) from None
    os.rmdir(probe)


def plan_output_folder(
    output_dir: Union[PathLike, OutputPlan],
    *,
    force: bool = False,
    inputs: Iterable[Optional[PathLike]] = (),
    flag: str = "--force",
) -> OutputPlan:
    """Check OUTPUT (rules 1-2 of the module docstring) before any input is read; raise `OutputFolderError`.

    `inputs` are the files or folders the command reads (None entries and names that are not local paths, such
    as Hub ids, are ignored); `flag` is how the caller spells `force` in messages. A plan passes through.
    """
    if isinstance(output_dir, OutputPlan):
        return output_dir
    shown = os.fspath(output_dir)
    target = _real(output_dir)
    refuse_inputs_inside(target, shown, inputs)
    if target.exists() and not target.is_dir():
        raise OutputFolderError(f"OUTPUT {shown!r} exists and is not a folder; choose another path.")
    _check_writable(target, shown)
    state = _state(target)
    if state == "foreign":
        raise OutputFolderError(
            f"OUTPUT {shown!r} is not empty and was not written by perceiver-hf (no {MARKER_NAME} file), so "
            f"{flag} will not replace it either. Choose a new or empty folder, or remove it yourself."
        )
    if state is not None and not force:
        raise OutputFolderError(
            f"OUTPUT {shown!r} already holds a perceiver-hf output. Choose a new or empty folder, or pass "
            f"{flag} to replace it (it is kept until the new folder is complete)."
        )
    return OutputPlan(Path(os.path.abspath(shown)), target, state, shown)


def check_output_folder(
    output_dir: PathLike, *, force: bool = False, inputs: Iterable[Optional[PathLike]] = (), flag: str = "--force"
) -> Path:
    """`plan_output_folder(...).path`: the absolute OUTPUT path, if it may be written."""
    return plan_output_folder(output_dir, force=force, inputs=inputs, flag=flag).path


def _pid_alive(pid: int) -> bool:
    if pid <= 0:
        return False
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def remove_stale_leftovers(target: Path) -> list[Path]:
    """Remove the temporaries and lock that dead perceiver-hf processes left next to `target`; return them.

    Only names of this module's pattern for `target` whose PID is not alive are touched. A stale `old` folder
    (a previous output moved aside by a run killed before its new folder moved in) is put back if `target`
    is missing, else removed.
    """
    removed = []
    parent = target.parent
    if not parent.is_dir():
        return removed
    for entry in sorted(parent.iterdir()):
        match = _LEFTOVER.match(entry.name)
        if not match or match["name"] != target.name or _pid_alive(int(match["pid"])) or entry.is_symlink():
            continue
        if match["kind"] == "old" and not target.exists() and is_package_folder(entry):
            os.rename(entry, target)
            continue
        shutil.rmtree(entry, ignore_errors=True)
        removed.append(entry)
    lock = _lock_path(target)
    if lock.is_symlink():  # a lock is a directory made by os.mkdir; a link of its name is not one: drop the link
        lock.unlink()
        removed.append(lock)
        logger.warning("Removed %s: a symlink where perceiver-hf keeps its lock directory (the link only).", lock)
    elif lock.is_dir() and not _pid_alive(owner := _lock_owner(lock)):
        shutil.rmtree(lock, ignore_errors=True)
        removed.append(lock)
        logger.warning("Removed the stale lock %s of process %d, which no longer runs.", lock, owner)
    return removed


def _sibling(target: Path, kind: str) -> Path:
    return target.parent / f".{target.name}.{_TAG}-{kind}-{os.getpid()}-{uuid.uuid4().hex[:8]}"


def _lock_path(target: Path) -> Path:
    return target.parent / f".{target.name}.{_TAG}-lock"


def _lock_owner(lock: Path) -> int:
    """The pid written in `lock` (0 for a lock that is not a real directory with a regular pid file)."""
    if lock.is_symlink():
        return 0
    try:
        pid_file = lock / "pid"
        if pid_file.is_symlink():
            return 0
        with open(pid_file, encoding="utf-8") as handle:
            return int(handle.read(32))  # a pid; a larger file is not one of ours
    except (OSError, ValueError):
        # a lock whose pid file is not written yet: its owner is alive for the next moment, treat as held
        return os.getpid() if time.time() - lock.stat().st_mtime < 60 else 0


def write_marker(folder: Path) -> str:
    """Write the marker file into `folder`; return its text (unique per write)."""
    text = json.dumps(
        {"written_by": _TAG, "pid": os.getpid(), "host": socket.gethostname(), "time": time.time(),
         "token": uuid.uuid4().hex},
        sort_keys=True,
    )
    (folder / MARKER_NAME).write_text(text + "\n", encoding="utf-8")
    return text + "\n"


@contextmanager
def _exclusive(target: Path, shown: str) -> Iterator[None]:
    """Hold the lock of `target` (an exclusive `os.mkdir`); fail if a live process holds it."""
    lock = _lock_path(target)
    try:
        os.mkdir(lock)
    except FileExistsError:
        if lock.is_symlink():
            raise OutputFolderError(
                f"{lock} is a symlink where perceiver-hf keeps the lock of OUTPUT {shown!r}; nothing was replaced. "
                "Remove the link and run again."
            ) from None
        raise OutputFolderError(
            f"another process (pid {_lock_owner(lock)}) is writing OUTPUT {shown!r} right now; nothing was "
            "replaced. Wait for it, or choose another folder."
        ) from None
    try:
        (lock / "pid").write_text(str(os.getpid()), encoding="utf-8")
        yield
    finally:
        shutil.rmtree(lock, ignore_errors=True)


@contextmanager
def sigterm_as_exit() -> Iterator[None]:
    """Inside the block, SIGTERM raises SystemExit(143) so that cleanup runs (main thread only; else a no-op)."""

    def handler(signum: int, frame: object) -> None:
        raise SystemExit(128 + signum)

    try:
        previous = signal.signal(signal.SIGTERM, handler)
    except ValueError:  # not the main thread
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _make_parents(folder: Path) -> list[Path]:
    """Create the missing ancestors of `folder`; return those created, deepest first."""
    created = []
    for ancestor in reversed(folder.parents):
        if not ancestor.exists():
            ancestor.mkdir()
            created.append(ancestor)
    return created[::-1]


def _move_into_place(staging: Path, plan: OutputPlan) -> None:
    """Under the lock: check OUTPUT is as planned, then swap `staging` in (old contents deleted last)."""
    target = plan.target
    with _exclusive(target, plan.shown):
        if _state(target) != plan.expected:
            raise OutputFolderError(
                f"another process wrote OUTPUT {plan.shown!r} while this one ran; its result is kept and this "
                "one was discarded. Run again (with --force to replace it) if you want this one."
            )
        if plan.expected is None:
            os.rename(staging, target)  # onto a missing or empty folder; fails if it is not empty
            return
        previous = _sibling(target, "old")
        os.rename(target, previous)
        try:
            os.rename(staging, target)
        except BaseException:
            os.rename(previous, target)
            raise
    shutil.rmtree(previous, ignore_errors=True)


def write_output_folder(
    output_dir: Union[PathLike, OutputPlan],
    write: Callable[[Path], None],
    *,
    force: bool = False,
    inputs: Iterable[Optional[PathLike]] = (),
    flag: str = "--force",
) -> Path:
    """Call `write(folder)` on a fresh temporary folder, then move it atomically to `output_dir`.

    Args:
        output_dir: the folder to create, or the `OutputPlan` of an earlier check (then the final move
            requires OUTPUT to be as it was at that check, so a process that wrote it meanwhile wins).
        write: fills the folder it is given (which holds only the marker file).
        force, inputs, flag: as in `plan_output_folder` (unused when `output_dir` is a plan).

    Returns:
        The absolute OUTPUT path (a symlink is kept and the folder it names replaced).

    Raises:
        OutputFolderError: see `plan_output_folder`, or another process wrote OUTPUT meanwhile.
    """
    plan = plan_output_folder(output_dir, force=force, inputs=inputs, flag=flag)
    created = _make_parents(plan.target)
    remove_stale_leftovers(plan.target)
    staging = _sibling(plan.target, "tmp")
    try:
        with sigterm_as_exit():
            staging.mkdir()
            write_marker(staging)
            write(staging)
            _move_into_place(staging, plan)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        for folder in created:
            if folder.exists() and not any(folder.iterdir()):
                folder.rmdir()
        raise
    return plan.path


def claim_output_folder(plan: OutputPlan) -> Path:
    """Take the checked folder that a long job then writes into over time (training), marked as ours.

    Not atomic as a whole (checkpoints must survive a crash to be resumed): OUTPUT becomes a fresh folder
    holding only the marker, swapped in like `write_output_folder` does (a `force`-replaced previous output is
    deleted), so a later `force` may replace it. Call it after the job's inputs are checked, before it writes.
    """
    _make_parents(plan.target)
    remove_stale_leftovers(plan.target)
    fresh = _sibling(plan.target, "tmp")
    fresh.mkdir()
    try:
        write_marker(fresh)
        _move_into_place(fresh, plan)
    except BaseException:
        shutil.rmtree(fresh, ignore_errors=True)
        raise
    return plan.path


__all__ = [
    "MARKER_NAME",
    "OutputFolderError",
    "OutputPlan",
    "check_output_folder",
    "claim_output_folder",
    "is_package_folder",
    "is_within",
    "plan_output_folder",
    "remove_stale_leftovers",
    "write_output_folder",
]
