"""One training run with transformers' `Trainer`: the library behind `perceiver-hf train`.

Order of work: check the arguments and output folder -> tokenizer -> config (vocab_size and max_seq_len
linked and checked) -> load data (empty? text column?) -> tokenize, chunk, cache -> model -> train ->
save (safetensors) -> evaluate -> loss curve -> model card (README.md). Everything that can be wrong with the
inputs is reported before the first training step.
"""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path
from typing import Any, Optional, Sequence

import datasets
import transformers
from transformers import Trainer, TrainerCallback, TrainingArguments, set_seed
from transformers.trainer_utils import get_last_checkpoint

from ..cpu_bf16 import slow_cpu_bf16_warning
from ..model_location import check_model_source
from ..output_folder import (
    OutputFolderError,
    OutputPlan,
    claim_output_folder,
    is_within,
    plan_output_folder,
    refuse_inputs_inside,
)
from .causal_lm_run import CausalLMTask
from .classification_run import ClassificationTask
from .collators import MaskingEpochCallback, PerceiverMLMCollator
from .data import prepare_datasets
from .file_checks import check_checkpoint_folder
from .fsdp import prepare_cpu_fsdp_run
from .metrics import compute_metrics, preprocess_logits_for_metrics
from .task_trainer import TaskData, TaskTrainerOptions, TrainingTask, build_task_trainer, wants_training
from .training_card import MODEL_CARD_NAME, render_training_card
from .model_setup import BYTE_TOKENIZER_NAMES, PERCEIVER_IO, ModelSetup, build_model
from .parsing import TrainArguments, parse_train_args
from .plotting import plot_loss_curve
from .run_command import RunCommand

logger = logging.getLogger(__name__)

LOSS_CURVE_FILE = "loss_curve.png"


def resolve_resume(value: Optional[str]) -> Optional[str | bool]:
    """`--resume_from_checkpoint`: a checkpoint folder, or 'last'/'true' for the newest one in output_dir."""
    if value is None or value == "" or value.lower() in ("false", "no", "none"):
        return None
    if value.lower() in ("last", "latest", "true", "yes"):
        return True
    if not Path(value).is_dir():
        raise ValueError(f"--resume_from_checkpoint {value}: no such checkpoint folder.")
    return value


def check_resume_checkpoint(resume: Optional[str | bool], output_dir: Optional[str]) -> None:
    """Refuse a corrupted checkpoint to resume from (the folder given, or the newest in output_dir) by name."""
    folder = get_last_checkpoint(output_dir) if resume is True and output_dir else resume
    if isinstance(folder, str):
        check_checkpoint_folder(folder)


def check_hub_inputs(arguments: TrainArguments) -> None:
    """Model, config and tokenizer names that are not on disk must be cached or reachable Hub ids: offline or
    with the Hub unreachable, a `ModelSourceError` (a ValueError) at once instead of minutes of retries."""
    model_args = arguments.model
    for name in (model_args.model_name_or_path, model_args.config_name, model_args.tokenizer_name):
        if name and not os.path.exists(name) and name.lower() not in BYTE_TOKENIZER_NAMES:
            check_model_source(name, model_args.model_revision, perceiver_folder=False, cache_dir=model_args.cache_dir)


def check_output_dir(arguments: TrainArguments, resume: Any) -> Optional[OutputPlan]:
    """Check --output_dir before anything is read; return its plan (None when the run resumes in it).

    Refused: an output folder that is or contains an input (model, config, tokenizer, data files), a non-empty
    folder without `--force`, and (even with `--force`) a folder perceiver-hf did not write. The plan is
    claimed (`perceiver_hf.output_folder.claim_output_folder`) once every input has been checked.
    """
    training_args, model_args, data_args = arguments.training, arguments.model, arguments.data
    if not training_args.output_dir:
        raise ValueError("Pass --output_dir: the folder for checkpoints, the final model and the loss curve.")
    output_dir = Path(training_args.output_dir)
    if resume is True and (not output_dir.is_dir() or get_last_checkpoint(str(output_dir)) is None):
        raise ValueError(f"--resume_from_checkpoint last: {output_dir} holds no checkpoint-* folder to resume from.")
    inputs = [model_args.model_name_or_path, model_args.config_name, model_args.tokenizer_name]
    inputs += [*(data_args.train_file or []), *(data_args.validation_file or [])]
    if isinstance(resume, str) and not is_within(resume, output_dir):
        inputs.append(resume)
    if resume:  # continue a run in its own folder: its checkpoints are what it reads
        refuse_inputs_inside(output_dir, str(output_dir), inputs)
        return None
    try:
        return plan_output_folder(output_dir, force=model_args.force, inputs=inputs)
    except OutputFolderError as error:
        checkpoints = sorted(p.name for p in output_dir.glob("checkpoint-*")) if output_dir.is_dir() else []
        if not checkpoints:
            raise
        raise OutputFolderError(
            f"{error} It holds {', '.join(checkpoints[:3])}: continue that run with --resume_from_checkpoint last."
        ) from None


def setup_logging(training_args: TrainingArguments) -> None:
    """run_mlm.py-style logging: INFO on the main process, warnings elsewhere; progress bars unless
    --disable_tqdm (Trainer's, datasets' and transformers' loading bars alike)."""
    logging.basicConfig(
        format="%(asctime)s - %(levelname)s - %(name)s - %(message)s",
        datefmt="%m/%d/%Y %H:%M:%S",
        handlers=[logging.StreamHandler(sys.stdout)],
    )
    log_level = training_args.get_process_log_level()  # "passive" -> transformers' default (warnings)
    datasets.utils.logging.set_verbosity(log_level)
    transformers.utils.logging.set_verbosity(log_level)
    logging.getLogger("perceiver_hf").setLevel(logging.INFO if training_args.should_log else logging.WARNING)
    if training_args.disable_tqdm:  # Trainer's bars follow the flag; so do datasets' (map, split generation)
        datasets.disable_progress_bars()
        transformers.utils.logging.disable_progress_bar()


def warn_if_slow_cpu_bf16(training_args: TrainingArguments) -> None:
    """Warn (one line) when --bf16 --use_cpu runs on a CPU without bf16 instructions: it works, but slowly."""
    if training_args.bf16 and training_args.use_cpu:
        warning = slow_cpu_bf16_warning("--bf16 --use_cpu", "drop --bf16 to train in float32")
        if warning is not None:
            logger.warning(warning)


class PerceiverMLMTask:
    """The masked-LM task of `build_task_trainer`: text chunked into `max_seq_len` tokens, masked by
    `PerceiverMLMCollator` (fresh masks per epoch), `PerceiverForMaskedLM`, accuracy / perplexity metrics."""

    family = PERCEIVER_IO

    def prepare(
        self, raw: datasets.DatasetDict, tokenizer: Any, setup: ModelSetup, arguments: TrainArguments
    ) -> TaskData:
        tokenizer.model_max_length = setup.config.max_seq_len  # saved with the model: truncation=True fits it
        masking, training_args = arguments.masking, arguments.training
        collator = PerceiverMLMCollator(
            tokenizer,
            mlm_probability=masking.mlm_probability,
            mask_replace_prob=masking.mask_replace_prob,
            random_replace_prob=masking.random_replace_prob,
            masking=masking.masking,
            mean_span_length=masking.mean_span_length,
            max_span_length=masking.max_span_length,
            decode_only=masking.decode_only,
            seed=training_args.seed,
        )
        prepared = prepare_datasets(
            raw,
            tokenizer,
            arguments.data,
            setup.max_seq_len,
            collator,
            training_args.seed,
            main_process_first=lambda desc: training_args.main_process_first(desc=desc),
        )
        return TaskData(datasets=dict(prepared), collator=collator)

    def trainer_options(self, data: TaskData, arguments: TrainArguments) -> TaskTrainerOptions:
        training_args = arguments.training
        if training_args.dataloader_num_workers > 0 and training_args.dataloader_persistent_workers:
            logger.warning(
                "--dataloader_persistent_workers keeps the collator of the first epoch in the workers: every epoch "
                "then reuses the same masks. Drop it for fresh masks per epoch."
            )
        evaluating = training_args.do_eval
        return TaskTrainerOptions(
            compute_metrics=compute_metrics if evaluating else None,
            preprocess_logits_for_metrics=preprocess_logits_for_metrics if evaluating else None,
            callbacks=[MaskingEpochCallback(data.collator)],
        )

    def build_model(self, setup: ModelSetup, arguments: TrainArguments) -> PerceiverForMaskedLM:
        return build_model(arguments.model, setup)

    def render_card(self, trainer: Trainer, arguments: TrainArguments, command: Optional[RunCommand] = None) -> str:
        return render_training_card(trainer, arguments=arguments, command=command)


def build_trainer(
    arguments: TrainArguments, callbacks: Sequence[TrainerCallback] = (), command: Optional[RunCommand] = None
) -> Trainer:
    """The ready `Trainer` of the run `arguments` describe: the masked-LM task or (--task) a classifier or a causal LM."""
    task: TrainingTask
    if arguments.task.is_classification:
        task = ClassificationTask()
    elif arguments.task.is_causal_lm:
        task = CausalLMTask()
    else:
        task = PerceiverMLMTask()
    return build_task_trainer(arguments, task, callbacks, command)


def run_training(
    arguments: TrainArguments, callbacks: Sequence[TrainerCallback] = (), command: Optional[RunCommand] = None
) -> dict[str, float]:
    """Train and/or evaluate as `arguments` say; returns the train_* and eval_* metrics.

    A training run ends by writing its model card (README.md) into output_dir; `command` is the command line it
    records (`run_from_argv` passes it; without it the card shows the equivalent arguments).
    """
    training_args = arguments.training
    check_hub_inputs(arguments)
    resume = resolve_resume(training_args.resume_from_checkpoint)
    plan = check_output_dir(arguments, resume)
    check_resume_checkpoint(resume, training_args.output_dir)
    setup_logging(training_args)
    warn_if_slow_cpu_bf16(training_args)
    prepare_cpu_fsdp_run(training_args)  # FSDP2 on CPU: refuse what cannot work, before anything is loaded
    set_seed(training_args.seed)
    trainer = build_trainer(arguments, callbacks, command)
    if plan is not None and trainer.is_world_process_zero():
        claim_output_folder(plan)

    metrics: dict[str, float] = {}
    if training_args.do_train:
        result = trainer.train(resume_from_checkpoint=resume)
        trainer.save_model()  # model.safetensors + config + tokenizer in output_dir
        trainer.log_metrics("train", result.metrics)
        trainer.save_metrics("train", result.metrics)
        trainer.save_state()
        metrics.update(result.metrics)
    if training_args.do_eval:
        eval_metrics = trainer.evaluate()
        trainer.log_metrics("eval", eval_metrics)
        trainer.save_metrics("eval", eval_metrics)
        metrics.update(eval_metrics)
    if training_args.do_train and trainer.is_world_process_zero():
        path = os.path.join(training_args.output_dir, LOSS_CURVE_FILE)
        if plot_loss_curve(trainer.state.log_history, path, title=Path(training_args.output_dir).name):
            logger.info("Loss curve written to %s", path)
        else:
            logger.warning("No loss was logged (fewer steps than --logging_steps); no loss curve written.")
        trainer.create_model_card()
        logger.info("Model card written to %s", os.path.join(training_args.output_dir, MODEL_CARD_NAME))
    if training_args.push_to_hub:
        trainer.push_to_hub()  # uploads output_dir with the card above, rewritten by ModelCardTrainer
    return metrics


def close_process_group() -> None:
    """After a distributed run: wait for every process, then tear the process group down.

    Without it a process that finishes first exits while another still writes the model, and gloo's
    communication threads are destroyed unjoined ("terminate called without an active exception", exit -6).
    """
    import torch.distributed as distributed

    if distributed.is_available() and distributed.is_initialized():
        distributed.barrier()
        distributed.destroy_process_group()


def run_from_argv(argv: Sequence[str], callbacks: Sequence[TrainerCallback] = ()) -> dict[str, float]:
    """Parse `argv` exactly like `perceiver-hf train` does and run; raises ValueError for bad input."""
    arguments = parse_train_args(argv)
    return run_training(arguments, callbacks, RunCommand.from_argv(argv))


__all__ = [
    "LOSS_CURVE_FILE",
    "PerceiverMLMTask",
    "build_trainer",
    "check_hub_inputs",
    "check_output_dir",
    "check_resume_checkpoint",
    "close_process_group",
    "resolve_resume",
    "run_from_argv",
    "run_training",
    "wants_training",
    "warn_if_slow_cpu_bf16",
]
