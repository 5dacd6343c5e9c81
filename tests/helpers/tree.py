"""Snapshots of a folder tree, to prove a command touched nothing outside its output folder."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Optional, Union

Entry = Union[bytes, str]


def tree_snapshot(root: Path) -> dict[str, Entry]:
    """Relative path -> file bytes, "<dir>", or "-> target" for a symlink, for everything below `root`."""
    snapshot: dict[str, Entry] = {}
    for path in sorted(root.rglob("*")):
        relative = str(path.relative_to(root))
        if path.is_symlink():
            snapshot[relative] = f"-> {os.readlink(path)}"
        elif path.is_dir():
            snapshot[relative] = "<dir>"
        else:
            snapshot[relative] = path.read_bytes()
    return snapshot


def changed_outside(before: dict[str, Entry], after: dict[str, Entry], output: Optional[str] = None) -> list[str]:
    """Paths that appeared, vanished or changed, except `output` (relative to the root) and what is below it."""

    def outside(relative: str) -> bool:
        return output is None or not (relative == output or relative.startswith(output + os.sep))

    names = {name for name in {*before, *after} if outside(name)}
    return sorted(name for name in names if before.get(name) != after.get(name))
