"""Command line and config-file parsing for `perceiver-hf train` (transformers' `HfArgumentParser`).

    perceiver-hf train --preset tiny --train_file a.txt --output_dir out        # flags
    perceiver-hf train config.yaml                                              # one YAML or JSON file
    perceiver-hf train config.yaml --learning_rate 1e-4 --output_dir out2       # file, then flags on top

A config file holds the same names as the flags (without dashes), from any of the argument groups.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional, Sequence

import torch
from transformers import HfArgumentParser, TrainingArguments

from ..model_location import resolve_shipped_model
from .arguments import (
    DataArguments,
    MaskingArguments,
    ModelArguments,
    PerceiverARConfigArguments,
    PerceiverConfigArguments,
)
from .task_arguments import TaskArguments

CONFIG_FILE_SUFFIXES = (".json", ".yaml", ".yml")

TRAINING_DEFAULTS: dict[str, Any] = {
    "logging_steps": 10,
    "dataloader_pin_memory": torch.accelerator.is_available(),
    "ddp_find_unused_parameters": False,
}
"""Where `perceiver-hf train` departs from `TrainingArguments`' defaults: 500 logging steps leave the loss
curve of a short run empty; pinned memory only helps (and only works) with an accelerator; every parameter
takes part in every step, so DDP need not search for unused ones."""


@dataclass
class TrainArguments:
    """Everything `perceiver-hf train` was given, one dataclass per argument group."""

    model: ModelArguments
    config: Any  # PerceiverConfigArguments
    data: DataArguments
    masking: MaskingArguments
    training: TrainingArguments
    task: TaskArguments = dataclasses.field(default_factory=TaskArguments)
    ar_config: Any = dataclasses.field(default_factory=PerceiverARConfigArguments)  # PerceiverARConfigArguments

    @property
    def config_groups(self) -> tuple[Any, ...]:
        """Both groups of config flags (Perceiver IO's, with the shared names, and Perceiver AR's own)."""
        return (self.config, self.ar_config)


def build_parser(prog: str = "perceiver-hf train") -> HfArgumentParser:
    """The `HfArgumentParser` over all argument groups, with `TRAINING_DEFAULTS` applied."""
    parser = HfArgumentParser(
        (
            ModelArguments, PerceiverConfigArguments, DataArguments, MaskingArguments, TrainingArguments,
            TaskArguments, PerceiverARConfigArguments,
        ),  # fmt: skip
        prog=prog,
        description="Train or fine-tune a Perceiver IO masked language model (or, with --task, a sequence or token "
        "classifier, or a Perceiver AR causal language model) with transformers' Trainer. "
        "Arguments can also come from one YAML/JSON file given first (flags after it override the file).",
    )
    parser.set_defaults(**TRAINING_DEFAULTS)
    return parser


def read_config_file(path: str | Path) -> dict[str, Any]:
    """Read a YAML or JSON file of arguments into a dict (ValueError with the reason if it cannot be read)."""
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"Config file {path} does not exist.")
    text = path.read_text(encoding="utf-8")
    try:
        if path.suffix.lower() == ".json":
            values = json.loads(text)
        else:
            import yaml

            values = yaml.safe_load(text)
    except Exception as error:  # yaml.YAMLError or json.JSONDecodeError, both with line information
        raise ValueError(f"Cannot parse {path}: {error}") from None
    if values is None:
        return {}
    if not isinstance(values, dict):
        raise ValueError(f"{path} must hold a mapping of argument names to values, got {type(values).__name__}.")
    return values


def parse_train_args(argv: Sequence[str], parser: Optional[HfArgumentParser] = None) -> TrainArguments:
    """Parse `argv` (optionally starting with a config file) into `TrainArguments`.

    Raises ValueError for unknown names in a config file and for argument values the dataclasses reject;
    argparse itself exits with status 2 for unknown flags.
    """
    parser = parser or build_parser()
    argv = list(argv)
    if argv and not argv[0].startswith("-") and argv[0].lower().endswith(CONFIG_FILE_SUFFIXES):
        values = read_config_file(argv.pop(0))
        known = {action.dest for action in parser._actions}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ValueError(
                f"Unknown argument name(s) in the config file: {', '.join(unknown)}. Use the flag names without "
                "dashes, e.g. 'preset: tiny', 'train_file: data.txt', 'learning_rate: 1e-4'."
            )
        parser.set_defaults(**values)
    model, config, data, masking, training, task, ar_config = parser.parse_args_into_dataclasses(
        args=argv, look_for_args_file=False
    )
    for name in ("model_name_or_path", "config_name", "tokenizer_name"):  # the shipped model's name works too
        if getattr(model, name) is not None:
            setattr(model, name, resolve_shipped_model(getattr(model, name)))
    return TrainArguments(
        model=model, config=config, data=data, masking=masking, training=training, task=task, ar_config=ar_config
    )


def arguments_to_dict(arguments: TrainArguments) -> dict[str, Any]:
    """The non-default arguments of every group except TrainingArguments (for logging and the run record)."""
    record: dict[str, Any] = {}
    for group in (arguments.model, *arguments.config_groups, arguments.data, arguments.masking, arguments.task):
        for item in dataclasses.fields(group):
            value = getattr(group, item.name)
            if value != item.default:
                record[item.name] = value
    return record


__all__ = ["TRAINING_DEFAULTS", "TrainArguments", "arguments_to_dict", "build_parser", "parse_train_args", "read_config_file"]
