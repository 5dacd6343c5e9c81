"""`perceiver-hf train --task text-classification|token-classification`: the `Trainer` of a classifier run.

Same front as the masked-LM run (model, data and training arguments, output folder checks, saving, loss curve,
card, push_to_hub: see `run.py`); what differs is built here: the label names, the encoded data, the head
(`from_pretrained(<masked-LM folder>, num_labels=k)` initialises only the classifier), the padding collator,
accuracy / macro-F1 (entity F1 for BIO token labels) as `compute_metrics`, optional early stopping, the card.
"""

from __future__ import annotations

import functools
import logging
from typing import Callable, Optional, Sequence

from datasets import DatasetDict
from transformers import (
    DataCollatorForTokenClassification,
    DataCollatorWithPadding,
    EarlyStoppingCallback,
    Trainer,
    TrainingArguments,
    TrainerCallback,
    set_seed,
)

from ..model_cards import render_model_card
from ..model_cards.fields import architecture_summary, classifier_summary, hub_metadata, hub_repo_id
from ..modeling_classification import PerceiverForSequenceClassification, PerceiverForTokenClassification
from .classification_data import prepare_classification_datasets, resolve_label_names
from .classification_metrics import classification_metrics
from .data import load_raw_datasets
from .fsdp import shard_for_training
from .training_card import ModelCardTrainer, _latest_evaluation, data_name, run_card_basics
from .freezing import freeze_encoder
from .model_setup import load_tokenizer, resolve_model_setup
from .parsing import TrainArguments
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


def build_classification_trainer(
    arguments: TrainArguments,
    resolve_modes: Callable[[TrainingArguments, bool, bool], None],
    callbacks: Sequence[TrainerCallback] = (),
    command: Optional[RunCommand] = None,
) -> Trainer:
    """Set up a classifier run and check it; return the ready `Trainer` (`resolve_modes(training_args, has_train,
    has_eval)` is the masked-LM run's choice of training/evaluation)."""
    model_args, data_args, training_args, task = arguments.model, arguments.data, arguments.training, arguments.task
    tokenizer = load_tokenizer(model_args)
    setup = resolve_model_setup(model_args, arguments.config, data_args, tokenizer)
    raw = load_raw_datasets(data_args, model_args.cache_dir)
    resolve_modes(training_args, "train" in raw, "validation" in raw)
    names = resolve_label_names(raw, task.label_column_name, task.task, task.names())
    logger.info("Task %s with %d labels: %s", task.task, len(names), ", ".join(names[:20]))
    wanted = [split for split, on in (("train", training_args.do_train), ("validation", training_args.do_eval)) if on]
    prepared = prepare_classification_datasets(
        DatasetDict({split: raw[split] for split in wanted}), tokenizer, data_args.text_column_name,
        task.label_column_name, names, task.task, setup.max_seq_len,
        {"train": data_args.max_train_samples, "validation": data_args.max_eval_samples},
    )
    config = setup.config
    config.num_labels = len(names)
    config.id2label = dict(enumerate(names))
    config.label2id = {name: index for index, name in enumerate(names)}
    head = HEADS[task.task]
    set_seed(training_args.seed)
    model = (
        head.from_pretrained(
            model_args.model_name_or_path, config=config, cache_dir=model_args.cache_dir,
            revision=model_args.model_revision,
        )
        if setup.pretrained
        else head(config)
    )
    if model_args.freeze_encoder:
        freeze_encoder(model)
    model = shard_for_training(model, training_args)  # FSDP2 on CPU, if asked for
    collator = (DataCollatorWithPadding if task.task == "text-classification" else DataCollatorForTokenClassification)(
        tokenizer
    )
    return ModelCardTrainer(
        render_card=functools.partial(render_classifier_card, arguments=arguments, command=command),
        model=model,
        args=training_args,
        train_dataset=prepared.get("train"),
        eval_dataset=prepared.get("validation"),
        data_collator=collator,
        processing_class=tokenizer,
        compute_metrics=classification_metrics(task.task, names) if training_args.do_eval else None,
        callbacks=[*_early_stopping(arguments), *callbacks],
    )


CLASSIFIER_CARD_TEMPLATE = "perceiver-classifier-trained"
"""The model card template of a `perceiver-hf train --task ...-classification` run."""


def render_classifier_card(trainer: Trainer, arguments: TrainArguments, command: Optional[RunCommand] = None) -> str:
    """README.md of a classifier run: task, labels, data, metrics, the command, usage."""
    model, model_args, task = trainer.model, arguments.model, arguments.task.task
    basics = run_card_basics(trainer, arguments, command)
    license, license_note, name, command_text = basics.license, basics.license_note, basics.name, basics.command_text
    evaluation = _latest_evaluation(trainer) or {}
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


__all__ = ["build_classification_trainer", "render_classifier_card"]
