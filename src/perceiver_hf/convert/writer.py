"""Write a converted model folder atomically: everything goes to a hidden folder next to OUTPUT_DIR, which is
renamed into place only once complete.

- OUTPUT_DIR must be new or empty unless `force`; with `force` its old contents are moved aside only after the
  new folder is complete, and deleted only after the new one is in place.
- On any error (including KeyboardInterrupt) the partial folder, and any parent folders created for it, are
  removed, and whatever was at OUTPUT_DIR before is left untouched.
"""

from __future__ import annotations

import os
import shutil
import uuid
from pathlib import Path
from typing import Any, Iterable, Optional, Union

import torch
from safetensors.torch import save_file
from transformers import PreTrainedConfig

from .errors import OutputDirError
from .progress import logger

CONFIG_NAME = "config.json"
WEIGHTS_NAME = "model.safetensors"
MODEL_CARD_NAME = "README.md"


def check_output_dir(output_dir: Union[str, Path], force: bool = False) -> Path:
    """Return `output_dir` as an absolute path if a model folder may be written there, else raise `OutputDirError`.

    Call it before any slow work, so that a wrong OUTPUT_DIR fails at once.
    """
    output_dir = Path(output_dir).absolute()
    if output_dir.exists() or output_dir.is_symlink():
        if not output_dir.is_dir():
            raise OutputDirError(f"OUTPUT_DIR {str(output_dir)!r} exists and is not a folder; choose another path.")
        if any(output_dir.iterdir()) and not force:
            raise OutputDirError(
                f"OUTPUT_DIR {str(output_dir)!r} is not empty. Choose a new or empty folder, or pass --force to "
                "replace its contents (they are kept until the new folder is complete)."
            )
    return output_dir


def _make_parents(folder: Path) -> list[Path]:
    """Create the missing ancestors of `folder`; return those created, deepest first."""
    created = []
    for ancestor in reversed(folder.parents):
        if not ancestor.exists():
            ancestor.mkdir()
            created.append(ancestor)
    return created[::-1]


def _sibling(output_dir: Path, tag: str) -> Path:
    return output_dir.parent / f".{output_dir.name}.{tag}-{uuid.uuid4().hex[:8]}"


def _move_into_place(staging: Path, output_dir: Path) -> None:
    """Rename the complete `staging` folder to `output_dir`, replacing (after the fact) what was there."""
    if not output_dir.exists() or not any(output_dir.iterdir()):
        os.replace(staging, output_dir)  # replaces an empty folder atomically
        return
    previous = _sibling(output_dir, "previous")
    os.rename(output_dir, previous)
    try:
        os.rename(staging, output_dir)
    except BaseException:
        os.rename(previous, output_dir)
        raise
    shutil.rmtree(previous, ignore_errors=True)


def write_model_folder(
    output_dir: Union[str, Path],
    *,
    config: PreTrainedConfig,
    tensors: Iterable[tuple[str, torch.Tensor]],
    model_card: str,
    tokenizer: Optional[Any] = None,
    force: bool = False,
    metadata: Optional[dict[str, str]] = None,
) -> Path:
    """Write config.json, model.safetensors, the tokenizer files and README.md to `output_dir`, atomically.

    Args:
        output_dir: the folder to create (or, with `force`, to replace).
        config: saved as config.json.
        tensors: (state-dict key, tensor) pairs, saved as model.safetensors; consumed once.
        model_card: the text of README.md.
        tokenizer: anything with `save_pretrained(folder)`; None writes no tokenizer files.
        force: replace a non-empty `output_dir`.
        metadata: extra string metadata for the safetensors header (`format: pt` is always set).

    Returns:
        The absolute path of the written folder.
    """
    output_dir = check_output_dir(output_dir, force)
    created = _make_parents(output_dir)
    staging = _sibling(output_dir, "partial")
    try:
        staging.mkdir()
        config.save_pretrained(staging)
        logger.info("Converting the weights and writing %s", WEIGHTS_NAME)
        save_file(dict(tensors), staging / WEIGHTS_NAME, metadata={**(metadata or {}), "format": "pt"})
        # safetensors creates the file as 0600; give it the permissions (umask) the other files got
        os.chmod(staging / WEIGHTS_NAME, (staging / CONFIG_NAME).stat().st_mode & 0o777)
        if tokenizer is not None:
            tokenizer.save_pretrained(staging)
        (staging / MODEL_CARD_NAME).write_text(model_card, encoding="utf-8")
        _move_into_place(staging, output_dir)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        for folder in created:
            if folder.exists() and not any(folder.iterdir()):
                folder.rmdir()
        raise
    return output_dir
