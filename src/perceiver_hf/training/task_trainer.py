"""The one skeleton of a `perceiver-hf train` run's `Trainer`, shared by the masked-LM, classifier and causal-LM tasks.

Order of work: tokenizer -> config (vocab_size and max_seq_len linked and checked) -> load data -> which of
training / evaluation to run -> the task's datasets and collator -> model (seeded) -> frozen encoder, FSDP2 ->
`ModelCardTrainer`. What a task adds (its data preparation, head, metrics, callbacks, model card) comes from a
`TrainingTask`: `PerceiverMLMTask` (run.py), `ClassificationTask` (classification_run.py) and `CausalLMTask`
(causal_lm_run.py).
"""

from __future__ import annotations

import functools
import logging
from dataclasses import dataclass, field
from typing import Any, Callable, Optional, Protocol, Sequence

from datasets import Dataset, DatasetDict
from transformers import PreTrainedModel, PreTrainedTokenizerBase, Trainer, TrainerCallback, TrainingArguments, set_seed

from .data import load_raw_datasets
from .freezing import freeze_encoder
from .fsdp import shard_for_training
from .model_setup import ModelFamily, ModelSetup, load_tokenizer, resolve_model_setup
from .parsing import TrainArguments
from .run_command import RunCommand
from .training_card import ModelCardTrainer

logger = logging.getLogger(__name__)


@dataclass
class TaskData:
    """A task's prepared splits ("train" / "validation", those the run uses) and its batch collator."""

    datasets: dict[str, Dataset]
    collator: Callable[[list[dict[str, Any]]], dict[str, Any]]


@dataclass
class TaskTrainerOptions:
    """A task's `Trainer` extras: metrics and the callbacks it needs (before the caller's)."""

    compute_metrics: Optional[Callable[..., dict[str, float]]] = None
    preprocess_logits_for_metrics: Optional[Callable[..., Any]] = None
    callbacks: list[TrainerCallback] = field(default_factory=list)


class TrainingTask(Protocol):
    """What a task adds to the skeleton of `build_task_trainer` (called in this order), and which model family
    (config class, presets) it trains."""

    family: ModelFamily

    def prepare(
        self, raw: DatasetDict, tokenizer: PreTrainedTokenizerBase, setup: ModelSetup, arguments: TrainArguments
    ) -> TaskData:
        """Tokenize and encode the splits of `raw` the run uses (and set what the model config needs from them)."""

    def build_model(self, setup: ModelSetup, arguments: TrainArguments) -> PreTrainedModel:
        """The model to train: new (after `set_seed`) or `from_pretrained(model_name_or_path, config=setup.config)`."""

    def trainer_options(self, data: TaskData, arguments: TrainArguments) -> TaskTrainerOptions:
        """Metrics and callbacks; may refuse argument combinations the task cannot run (ValueError)."""

    def render_card(self, trainer: Trainer, arguments: TrainArguments, command: Optional[RunCommand] = None) -> str:
        """The model card (README.md) of the run."""


def wants_training(training_args: TrainingArguments) -> bool:
    """Train unless only evaluation was asked for (--do_eval without --do_train).

    An eval_strategy other than "no" makes TrainingArguments set do_eval by itself; periodic evaluation only makes
    sense during training, so it does not turn the run into an evaluation-only one.
    """
    return training_args.do_train or not training_args.do_eval or training_args.eval_strategy != "no"


def resolve_modes(training_args: TrainingArguments, has_train: bool, has_eval: bool) -> None:
    """Set do_train / do_eval (neither flag given: train, and evaluate if there is validation data); refuse a
    mode without its data."""
    do_train = wants_training(training_args)
    if not training_args.do_train and not training_args.do_eval:
        training_args.do_eval = has_eval
    training_args.do_train = do_train
    if training_args.do_train and not has_train:
        raise ValueError("--do_train needs training data: --train_file or --dataset_name with a train split.")
    if training_args.do_eval and not has_eval:
        raise ValueError(
            "--do_eval needs evaluation data: --validation_file, a validation split, or --validation_split_percentage > 0."
        )


def build_task_trainer(
    arguments: TrainArguments,
    task: TrainingTask,
    callbacks: Sequence[TrainerCallback] = (),
    command: Optional[RunCommand] = None,
) -> Trainer:
    """Set everything up and check it; return the ready `Trainer` (nothing trained yet).

    Its `create_model_card` (also run by `push_to_hub`) writes the task's card of the run, naming `command`.
    """
    model_args, data_args, training_args = arguments.model, arguments.data, arguments.training
    tokenizer = load_tokenizer(model_args)
    setup = resolve_model_setup(model_args, arguments.config_groups, data_args, tokenizer, task.family)
    logger.info(
        "Model: %s, vocab_size=%d (tokenizer %s), max_seq_len=%d, training on chunks of %d tokens",
        model_args.model_name_or_path or model_args.preset or model_args.config_name,
        setup.config.vocab_size,
        type(tokenizer).__name__,
        setup.config.max_seq_len,
        setup.max_seq_len,
    )
    raw = load_raw_datasets(data_args, model_args.cache_dir)
    resolve_modes(training_args, "train" in raw, "validation" in raw)
    wanted = [split for split, on in (("train", training_args.do_train), ("validation", training_args.do_eval)) if on]
    data = task.prepare(DatasetDict({split: raw[split] for split in wanted}), tokenizer, setup, arguments)
    options = task.trainer_options(data, arguments)
    set_seed(training_args.seed)  # the same initial weights whatever happened before
    model = task.build_model(setup, arguments)
    if model_args.freeze_encoder:
        freeze_encoder(model)
    model = shard_for_training(model, training_args)  # FSDP2 on CPU, if asked for
    logger.info(
        "%s parameters; %d process(es), global batch %d",
        f"{model.num_parameters():,}",
        training_args.world_size,
        training_args.per_device_train_batch_size * training_args.world_size * training_args.gradient_accumulation_steps,
    )
    return ModelCardTrainer(
        render_card=functools.partial(task.render_card, arguments=arguments, command=command),
        model=model,
        args=training_args,
        train_dataset=data.datasets.get("train"),
        eval_dataset=data.datasets.get("validation"),
        data_collator=data.collator,
        processing_class=tokenizer,
        compute_metrics=options.compute_metrics,
        preprocess_logits_for_metrics=options.preprocess_logits_for_metrics,
        callbacks=[*options.callbacks, *callbacks],
    )


__all__ = [
    "TaskData",
    "TaskTrainerOptions",
    "TrainingTask",
    "build_task_trainer",
    "resolve_modes",
    "wants_training",
]
