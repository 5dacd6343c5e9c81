"""Checks of the files `perceiver-hf train` reads, so a broken one is one message naming the file and the fix.

- `check_checkpoint_folder`: a `--resume_from_checkpoint` folder (or trainer_state.json in output_dir) whose
  JSON files do not parse, whose safetensors header is unreadable, or whose torch files (optimizer.pt,
  scheduler.pt, rng_state*.pth, training_args.bin) are not intact zip archives (CRC-checked);
- `diagnose_data_file`: after `datasets` failed on a data file, find the first undecodable byte of a .txt or the
  first malformed line of a .jsonl, naming file, line and fix.
"""

from __future__ import annotations

import codecs
import json
import zipfile
from pathlib import Path
from typing import Optional, Union

from ..loading_checks import unreadable_safetensors

TORCH_FILE_SUFFIXES = (".pt", ".pth", ".bin")
_CHUNK = 1 << 20


def _broken_torch_file(path: Path) -> Optional[str]:
    """Why a torch.save file is broken (not a zip archive, or a member fails its CRC), or None if intact."""
    if not zipfile.is_zipfile(path):
        return "not a torch.save archive (truncated or overwritten)"
    try:
        with zipfile.ZipFile(path) as archive:
            bad = archive.testzip()
    except (zipfile.BadZipFile, OSError, EOFError) as error:
        return f"a damaged archive ({error})"
    return f"a damaged archive (member {bad} fails its checksum)" if bad else None


def check_checkpoint_folder(folder: Union[str, Path]) -> None:
    """Raise ValueError naming the first broken file of a Trainer checkpoint folder (or output_dir)."""
    folder = Path(folder)
    fix = f"delete {folder} (or pass another checkpoint to --resume_from_checkpoint) and resume from an earlier one"
    for path in sorted(folder.glob("*.json")):
        try:
            json.loads(path.read_text(encoding="utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as error:
            raise ValueError(f"{path} is not valid JSON ({error}); the checkpoint is corrupted: {fix}.") from error
    bad = unreadable_safetensors(folder)
    if bad:
        raise ValueError(f"{folder / bad[0]} is not a readable safetensors file; the checkpoint is corrupted: {fix}.")
    for path in sorted(p for p in folder.iterdir() if p.suffix in TORCH_FILE_SUFFIXES and p.is_file()):
        problem = _broken_torch_file(path)
        if problem:
            raise ValueError(f"{path} is {problem}; the checkpoint is corrupted: {fix}.")


def _undecodable_text(path: Path) -> Optional[str]:
    """Where `path` stops being UTF-8 ("line L, byte offset B: ..."), or None if it decodes."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    offset, line = 0, 1
    with path.open("rb") as file:
        while True:
            chunk = file.read(_CHUNK)
            try:
                decoder.decode(chunk, final=not chunk)
            except UnicodeDecodeError as error:
                at_line = line + chunk[: error.start].count(b"\n")
                return f"line {at_line}, byte offset {offset + error.start}: {error.reason}"
            if not chunk:
                return None
            offset += len(chunk)
            line += chunk.count(b"\n")


def _malformed_json_line(path: Path) -> Optional[str]:
    """The first line of a JSON-lines file that is not a JSON object ("line N: ..."), or None."""
    with path.open("rb") as file:
        for number, raw in enumerate(file, start=1):
            if not raw.strip():
                continue
            try:
                record = json.loads(raw)
            except (UnicodeDecodeError, json.JSONDecodeError) as error:
                return f"line {number} is not valid JSON ({error})"
            if not isinstance(record, dict):
                return f"line {number} is a JSON {type(record).__name__}, not an object with a text field"
    return None


def diagnose_data_file(path: Union[str, Path]) -> Optional[str]:
    """A one-line description of what is wrong with a .txt (UTF-8) or .jsonl data file, or None if nothing found."""
    path = Path(path)
    problem = _undecodable_text(path)
    if problem:
        return f"{path} is not UTF-8 text ({problem}); pass a UTF-8 text file (convert it, e.g. with iconv)."
    if path.suffix == ".jsonl":
        problem = _malformed_json_line(path)
        if problem:
            return f"{path}: {problem}; fix that line (one JSON object per line, e.g. {{\"text\": \"...\"}})."
    return None


__all__ = ["check_checkpoint_folder", "diagnose_data_file"]
