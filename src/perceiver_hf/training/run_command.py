"""The command lines a training run's model card shows: the one that ran, and one that evaluates the result again.

`RunCommand` keeps what `perceiver-hf train` was given (and the config file it read, as it was at the start).
`evaluation_command` rebuilds an evaluation-only run that scores the saved model on the same masked tokens: the
same data, `max_seq_len`, masking and seed (validation masks depend only on those), batch size and precision.
"""

from __future__ import annotations

import dataclasses
import shlex
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional, Sequence

from transformers import Trainer

from .parsing import CONFIG_FILE_SUFFIXES, TrainArguments, arguments_to_dict

COMMAND = ("perceiver-hf", "train")
EVAL_DATA_FIELDS = (
    "dataset_name", "dataset_config_name", "validation_split_percentage", "text_column_name", "line_by_line",
    "keep_linebreaks", "max_eval_samples",
)  # fmt: skip
"""`DataArguments` fields that decide which tokens are evaluated (with the files, `max_seq_len` and the seed)."""


@dataclass(frozen=True)
class RunCommand:
    """The command line of a run and the text of the config file it read (kept at the start of the run)."""

    argv: tuple[str, ...]
    config_file: Optional[str] = None
    config_text: Optional[str] = None

    @classmethod
    def from_argv(cls, argv: Sequence[str]) -> "RunCommand":
        """The `perceiver-hf train` arguments `argv`; reads the config file if the first argument is one."""
        argv = tuple(argv)
        if argv and not argv[0].startswith("-") and argv[0].lower().endswith(CONFIG_FILE_SUFFIXES):
            return cls(argv, argv[0], Path(argv[0]).read_text(encoding="utf-8"))
        return cls(argv)

    def text(self) -> str:
        return shlex.join([*COMMAND, *self.argv])


def as_flags(values: dict[str, Any]) -> list[str]:
    """`{"train_file": ["a.txt"], "line_by_line": True}` -> `["--train_file", "a.txt", "--line_by_line", "true"]`."""
    flags: list[str] = []
    for name, value in values.items():
        if isinstance(value, (list, tuple)):
            flags += [f"--{name}", *map(str, value)]
        else:
            flags += [f"--{name}", str(value).lower() if isinstance(value, bool) else str(value)]
    return flags


def model_path(trainer: Trainer) -> str:
    """Where users load the model from: the Hub repository when pushing, else the output folder."""
    args = trainer.args
    return args.hub_model_id if args.push_to_hub and args.hub_model_id else str(args.output_dir)


def evaluation_command(trainer: Trainer, arguments: TrainArguments, max_seq_len: int) -> str:
    """An evaluation-only `perceiver-hf train` command scoring the saved model on the same masked tokens (the same
    evaluation examples for `--task causal-lm`)."""
    data, args = arguments.data, trainer.args
    if data.validation_file:
        files = {"validation_file": data.validation_file}
    elif data.train_file and data.validation_split_percentage > 0:
        files = {"train_file": data.train_file, "validation_split_percentage": data.validation_split_percentage}
    elif data.train_file:
        files = {"validation_file": ["HELD_OUT_TEXT" + Path(data.train_file[0]).suffix]}
    else:
        files = {}
    recorded = arguments_to_dict(arguments)  # the non-default model, data and masking arguments
    masking = {item.name for item in dataclasses.fields(arguments.masking)}
    values = {
        **({"task": arguments.task.task} if arguments.task.is_causal_lm else {}),
        "model_name_or_path": model_path(trainer),
        **{name: value for name, value in recorded.items() if name in EVAL_DATA_FIELDS},
        **files,
        "max_seq_len": max_seq_len,
        **{name: value for name, value in recorded.items() if name in masking},
        "seed": args.seed,
        "per_device_eval_batch_size": args.per_device_eval_batch_size,
    }
    if args.bf16 or args.fp16:
        values["bf16" if args.bf16 else "fp16"] = True
    if args.use_cpu:
        values["use_cpu"] = True
    values.update(do_eval=True, output_dir=f"{Path(args.output_dir).name}-evaluation")
    return shlex.join([*COMMAND, *as_flags(values)])


def command_fields(trainer: Trainer, arguments: TrainArguments, command: Optional[RunCommand]) -> tuple[str, str]:
    """The card's command line, and the config file it read as a Markdown block (or "").

    Without `command` (a run started through the Python API) the command line shows the equivalent arguments.
    """
    if command is None:
        values = {**arguments_to_dict(arguments), "output_dir": trainer.args.output_dir}
        note = "  # run through the Python API: TrainingArguments other than output_dir not shown"
        return shlex.join([*COMMAND, *as_flags(values)]) + note, ""
    if command.config_file is None:
        return command.text(), ""
    language = "json" if command.config_file.lower().endswith(".json") else "yaml"
    config_text = (
        f"\n`{command.config_file}`, the configuration file the command reads:\n\n```{language}\n"
        f"{command.config_text.rstrip()}\n```\n"
    )
    return command.text(), config_text


__all__ = ["COMMAND", "RunCommand", "as_flags", "command_fields", "evaluation_command", "model_path"]
