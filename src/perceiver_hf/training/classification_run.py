"""`perceiver-hf train --task text-classification|token-classification`: the `Trainer` of a classifier run.

Same front as the masked-LM run (model, data and training arguments, output folder checks, saving, loss curve,
card, push_to_hub: see `run.py`); what differs is built here: the label names, the encoded data, the head
(`from_pretrained(<masked-LM folder>, num_labels=k)` initialises only the classifier), the padding collator,
accuracy / macro-F1 (entity F1 for BIO token labels) as `compute_metrics`, optional early stopping, the card.
"""

from __future__ import annotations

import logging
from typing import Optional

from datasets import DatasetDict
from transformers import (
    DataCollatorForTokenClassification,
    DataCollatorWithPadding,
    EarlyStoppingCallback,
    PreTrainedModel,
    PreTrainedTokenizerBase,
    Trainer,
    TrainerCallback,
)

from ..model_cards import render_model_card
from ..model_cards.fields import architecture_summary, classifier_summary, hub_metadata, hub_repo_id
from ..modeling_classification import PerceiverForSequenceClassification, PerceiverForTokenClassification
from .classification_data import prepare_classification_datasets, resolve_label_names
from .classification_metrics import classification_metrics
from .model_setup import PERCEIVER_IO, ModelSetup, build_model
from .parsing import TrainArguments
from .task_trainer import TaskData, TaskTrainerOptions
from .training_card import data_name, latest_evaluation, run_card_basics
from .run_command import RunCommand, model_path

logger = logging.getLogger(__name__)

HEADS = {"text-classification": PerceiverForSequenceClassification, "token-classification": PerceiverForTokenClassification}


def _early_stopping(arguments: TrainArguments) -> list[TrainerCallback]:
    patience, training_args = arguments.task.early_stopping_patience, arguments.training
    if patience is None:
        return []
    if training_args.eval_strategy == "no" or training_args.eval_strategy != training_args.save_strategy:
        raise ValueError(
            "--early_stopping_patience needs periodic evaluation: pass --eval_strategy steps (or epoch) and the same "
            "--save_strategy."
        )
    training_args.load_best_model_at_end = True
    training_args.metric_for_best_model = training_args.metric_for_best_model or "f1"
    training_args.greater_is_better = True
    return [EarlyStoppingCallback(early_stopping_patience=patience)]


class ClassificationTask:
    """The classifier tasks of `build_task_trainer` (see the module docstring)."""

    family = PERCEIVER_IO

    def __init__(self) -> None:
        self.label_names: list[str] = []  # resolved from the data by `prepare`

    def prepare(
        self, raw: DatasetDict, tokenizer: PreTrainedTokenizerBase, setup: ModelSetup, arguments: TrainArguments
    ) -> TaskData:
        task, data_args = arguments.task, arguments.data
        names = resolve_label_names(raw, task.label_column_name, task.task, task.names())
        logger.info("Task %s with %d labels: %s", task.task, len(names), ", ".join(names[:20]))
        self.label_names = list(names)
        prepared = prepare_classification_datasets(
            raw, tokenizer, data_args.text_column_name, task.label_column_name, names, task.task, setup.max_seq_len,
            {"train": data_args.max_train_samples, "validation": data_args.max_eval_samples},
        )
        config = setup.config
        config.num_labels = len(names)
        config.id2label = dict(enumerate(names))
        config.label2id = {name: index for index, name in enumerate(names)}
        padding = DataCollatorWithPadding if task.task == "text-classification" else DataCollatorForTokenClassification
        return TaskData(datasets=dict(prepared), collator=padding(tokenizer))

    def trainer_options(self, data: TaskData, arguments: TrainArguments) -> TaskTrainerOptions:
        evaluating = arguments.training.do_eval
        metrics = classification_metrics(arguments.task.task, self.label_names) if evaluating else None
        return TaskTrainerOptions(compute_metrics=metrics, callbacks=_early_stopping(arguments))

    def build_model(self, setup: ModelSetup, arguments: TrainArguments) -> PreTrainedModel:
        return build_model(arguments.model, setup, HEADS[arguments.task.task])

    def render_card(self, trainer: Trainer, arguments: TrainArguments, command: Optional[RunCommand] = None) -> str:
        return render_classifier_card(trainer, arguments, command)


CLASSIFIER_CARD_TEMPLATE = "perceiver-classifier-trained"
"""The model card template of a `perceiver-hf train --task ...-classification` run."""


def render_classifier_card(trainer: Trainer, arguments: TrainArguments, command: Optional[RunCommand] = None) -> str:
    """README.md of a classifier run: task, labels, data, metrics, the command, usage."""
    model, model_args, task = trainer.model, arguments.model, arguments.task.task
    basics = run_card_basics(trainer, arguments, command)
    license, license_note, name, command_text = basics.license, basics.license_note, basics.name, basics.command_text
    evaluation = latest_evaluation(trainer) or {}
    metrics = "\n".join(
        f"| {key.removeprefix('eval_')} | {value:.4f} |" for key, value in evaluation.items()
        if key.startswith("eval_") and isinstance(value, float) and not key.endswith(("runtime", "per_second"))
    ) or "| (no evaluation was run) | |"
    origin = (
        f"fine-tuned from `{model_args.model_name_or_path}` (its encoder; the classifier is new)"
        if model_args.model_name_or_path else "trained from scratch"
    )  # fmt: skip
    decoder = (
        classifier_summary(model.config)
        if task == "text-classification"
        else f"decoder cross-attention ({model.config.decoder_num_cross_attention_heads} heads) with one learned "
        f"query per position -> linear classifier over {model.config.num_labels} labels"
    )
    labels = ", ".join(f"`{label}`" for label in model.config.id2label.values())
    metadata = hub_metadata(
        license=license, tags=["classification"], base_model=hub_repo_id(model_args.model_name_or_path),
        pipeline_tag=task,
    )
    return render_model_card(
        CLASSIFIER_CARD_TEMPLATE,
        metadata=metadata,
        name=name,
        task=task,
        task_words=task.replace("-", " "),
        model_class=type(model).__name__.removeprefix("FSDP"),  # fully_shard renames the class
        origin=origin,
        data=data_name(arguments),
        labels=labels,
        num_parameters=f"{model.num_parameters():,}",
        architecture=architecture_summary(model.config, decoder),
        license_note=license_note,
        metrics=metrics,
        command_text=command_text,
        model_path=model_path(trainer),
        max_seq_len=model.config.max_seq_len,
    )


__all__ = ["ClassificationTask", "render_classifier_card"]
