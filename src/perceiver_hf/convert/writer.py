"""Write a converted model folder (config.json, model.safetensors, tokenizer, README.md) atomically.

The folder rules (inputs, `force`, temporary sibling, exclusive final move, stale leftovers) are those of
`perceiver_hf.output_folder`, shared by every command that writes a folder.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Iterable, Optional, Union

import torch
from safetensors.torch import save_file
from transformers import PreTrainedConfig

from ..output_folder import OutputPlan, write_output_folder
from .progress import logger

CONFIG_NAME = "config.json"
WEIGHTS_NAME = "model.safetensors"
MODEL_CARD_NAME = "README.md"


def write_model_folder(
    output_dir: Union[str, Path, OutputPlan],
    *,
    config: PreTrainedConfig,
    tensors: Iterable[tuple[str, torch.Tensor]],
    model_card: str,
    tokenizer: Optional[Any] = None,
    force: bool = False,
    metadata: Optional[dict[str, str]] = None,
    inputs: Iterable[Union[str, Path]] = (),
) -> Path:
    """Write config.json, model.safetensors, the tokenizer files and README.md to `output_dir`, atomically.

    Args:
        output_dir: the folder to create (or, with `force`, to replace), or its checked `OutputPlan`.
        config: saved as config.json.
        tensors: (state-dict key, tensor) pairs, saved as model.safetensors; consumed once.
        model_card: the text of README.md.
        tokenizer: anything with `save_pretrained(folder)`; None writes no tokenizer files.
        force: replace a previous perceiver-hf output at `output_dir`.
        metadata: extra string metadata for the safetensors header (`format: pt` is always set).
        inputs: the files the conversion read; `output_dir` may not be or contain them.

    Returns:
        The absolute path of the written folder.
    """

    def write(staging: Path) -> None:
        config.save_pretrained(staging)
        logger.info("Converting the weights and writing %s", WEIGHTS_NAME)
        save_file(dict(tensors), staging / WEIGHTS_NAME, metadata={**(metadata or {}), "format": "pt"})
        # safetensors creates the file as 0600; give it the permissions (umask) the other files got
        os.chmod(staging / WEIGHTS_NAME, (staging / CONFIG_NAME).stat().st_mode & 0o777)
        if tokenizer is not None:
            tokenizer.save_pretrained(staging)
        (staging / MODEL_CARD_NAME).write_text(model_card, encoding="utf-8")

    return write_output_folder(output_dir, write, force=force, inputs=inputs)
