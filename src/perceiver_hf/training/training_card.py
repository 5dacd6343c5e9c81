"""The README.md model card of a `perceiver-hf train` run (template `perceiver-trained`), filled from the run.

Rendering itself is `perceiver_hf.model_cards.render_model_card` (the one renderer; templates in that package).

Everything comes from the finished `Trainer` and the parsed arguments: the model's size and architecture, the
tokenizer, the data, the masking, the optimisation, the command line, and the latest evaluation in the trainer's
log history (the final one at the end of a run). Hub metadata: `license` (`--card_license`, else the base model's,
else "unknown"), `base_model` when fine-tuning a Hub model, `datasets` for a Hub dataset, and a `model-index` with
masked-token accuracy and perplexity once the model was evaluated.

`ModelCardTrainer` is a `Trainer` whose `create_model_card` writes this card: `Trainer.push_to_hub` calls it just
before uploading, so the Hub gets this card instead of transformers' auto-generated one.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Optional, Sequence

from huggingface_hub import EvalResult
from transformers import Trainer

from ..version import package_version
from ..model_cards import render_model_card
from ..model_cards.fields import UNKNOWN_LICENSE, architecture_summary, hub_metadata, hub_repo_id, source_card_data
from ..tokenization_perceiver import PerceiverByteTokenizer
from .arguments import data_file_type
from .parsing import TrainArguments
from .run_command import RunCommand, command_fields, evaluation_command, model_path

TEMPLATE = "perceiver-trained"
MODEL_CARD_NAME = "README.md"


def no_figures_text(trainer: Trainer) -> str:
    """What a card says when the run has no evaluation figures (not evaluated yet, or no validation data)."""
    return "No figures: " + (
        "the run had not evaluated yet when this card was written."
        if trainer.args.do_eval
        else "the run had no validation data (pass --validation_file or --validation_split_percentage)."
    )


def latest_evaluation(trainer: Trainer) -> Optional[dict[str, Any]]:
    """The trainer's latest evaluation metrics (an entry of its log history with `eval_loss`), or None."""
    return next((entry for entry in reversed(trainer.state.log_history) if "eval_loss" in entry), None)


# --- data -------------------------------------------------------------------------------------------------------


def _files(paths: Sequence[str]) -> str:
    return ", ".join(f"`{path}`" for path in paths)


def data_name(arguments: TrainArguments) -> str:
    """A short name of the training data (the Hub dataset, or the files)."""
    data = arguments.data
    if data.dataset_name:
        return f"the dataset {data.dataset_name}"
    return _files(data.train_file or data.validation_file)


def evaluation_set(arguments: TrainArguments) -> tuple[str, str]:
    """(dataset type, dataset name) of the evaluation data, for the model-index."""
    data = arguments.data
    if data.dataset_name:
        return data.dataset_name, data.dataset_name
    if data.validation_file:
        return data_file_type(data.validation_file[0]), ", ".join(Path(p).name for p in data.validation_file)
    names = ", ".join(Path(p).name for p in data.train_file)
    return data_file_type(data.train_file[0]), f"first {data.validation_split_percentage}% of the records of {names}"


def held_out_text(arguments: TrainArguments) -> str:
    """Where the evaluation data comes from, in words."""
    data = arguments.data
    if data.validation_file:
        return f"the validation file(s) {_files(data.validation_file)}"
    if data.dataset_name:
        return f"the `validation` split of the dataset `{data.dataset_name}`, or (without one) the first " \
            f"{data.validation_split_percentage}% of its training records"  # fmt: skip
    return f"the first {data.validation_split_percentage}% of the records of the training files (held out)"


def training_data_text(trainer: Trainer, arguments: TrainArguments, max_seq_len: int) -> str:
    """The training data of the run and how it was cut into examples."""
    data = arguments.data
    if data.dataset_name:
        config = f" (configuration `{data.dataset_config_name}`)" if data.dataset_config_name else ""
        hub_id = hub_repo_id(data.dataset_name, namespace_required=False)
        name = f"the Hub dataset [`{hub_id}`](https://huggingface.co/datasets/{hub_id})" if hub_id else \
            f"the dataset `{data.dataset_name}`"  # fmt: skip
        source = f"the `train` split of {name}{config}"
    else:
        source = f"the file(s) {_files(data.train_file or [])}"
    held_out = "" if data.validation_file or data.dataset_name else (
        f", less the first {data.validation_split_percentage}% of the records (held out for evaluation)"
        if trainer.eval_dataset is not None else ""
    )  # fmt: skip
    layout = "one example per record, truncated to" if data.line_by_line else "concatenated and cut into chunks of"
    examples = f"{len(trainer.train_dataset):,} training examples" if trainer.train_dataset is not None else "examples"
    limit = f" (capped by --max_train_samples {data.max_train_samples})" if data.max_train_samples else ""
    return (
        f"Training data: {source}{held_out}, column `{data.text_column_name}`, tokenized, {layout} at most "
        f"{max_seq_len} tokens: {examples}{limit}."
    )


# --- procedure and evaluation -----------------------------------------------------------------------------------


def _name(option: Any) -> str:
    """The value of an enum option (`OptimizerNames.ADAMW_TORCH` -> "adamw_torch"), or the option itself."""
    return str(getattr(option, "value", option))


def _duration(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.1f} s"
    return f"{seconds / 60:.0f} min" if seconds < 7200 else f"{seconds / 3600:.1f} h"


def optimisation_text(trainer: Trainer) -> str:
    """The optimisation of the run, in one paragraph: steps, batch, optimizer, schedule, precision, seed, loss."""
    args, state = trainer.args, trainer.state
    batch = args.per_device_train_batch_size * args.world_size * args.gradient_accumulation_steps
    precision = "bf16 autocast" if args.bf16 else "fp16 autocast" if args.fp16 else "float32"
    summary = next((entry for entry in reversed(state.log_history) if "train_loss" in entry), {})
    result = (
        f" Training loss (mean over the run) {summary['train_loss']:.4f}, in {_duration(summary['train_runtime'])}."
        if summary else ""
    )  # fmt: skip
    return (
        f"{state.global_step} optimisation steps ({state.epoch or 0:.2f} epochs), global batch {batch} "
        f"({args.per_device_train_batch_size} per device x {args.world_size} process(es) x "
        f"{args.gradient_accumulation_steps} gradient-accumulation step(s)), optimizer `{_name(args.optim)}` "
        f"(learning rate {args.learning_rate:g}, {_name(args.lr_scheduler_type)} schedule, "
        f"{args.get_warmup_steps(state.max_steps)} warm-up steps, weight decay {args.weight_decay:g}), {precision}, "
        f"seed {args.seed}.{result}"
    )


def training_procedure_text(trainer: Trainer, arguments: TrainArguments) -> str:
    masking = arguments.masking
    unit = "words" if masking.masking in ("whole_word", "span") else "tokens"
    keep = 1 - masking.mask_replace_prob - masking.random_replace_prob
    decoded = "only the masked positions" if masking.decode_only else "every position"
    return (
        f"Masked language modelling with `perceiver-hf train` (transformers `Trainer`): {masking.masking} masking of "
        f"{masking.mlm_probability:.0%} of the {unit} ({masking.mask_replace_prob:.0%} `[MASK]`, "
        f"{masking.random_replace_prob:.0%} random token, {keep:.0%} unchanged), the decoder querying {decoded}. "
        + optimisation_text(trainer)
    )


def metric_text(value: Any, digits: int) -> str:
    """A metric with `digits` decimals, or "not evaluated"."""
    return f"{value:.{digits}f}" if isinstance(value, (int, float)) else "not evaluated"


def evaluation_fields(trainer: Trainer, arguments: TrainArguments, max_seq_len: int) -> dict[str, str]:
    evaluation = latest_evaluation(trainer) or {}
    if evaluation:
        source = (
            f"Measured by the run above (`Trainer.evaluate` at step {evaluation.get('step')}, seed "
            f"{trainer.args.seed}; the run writes the same figures to `eval_results.json`)."
        )
        data_text = (
            f"Evaluation data: {held_out_text(arguments)}, {len(trainer.eval_dataset or ()):,} examples, masked "
            "once with the training masking and the run's seed (the same tokens at every evaluation); "
            "accuracy = share of masked tokens whose most likely prediction is the original token, perplexity = "
            "exp(mean cross-entropy of the masked tokens)."
        )
    else:
        source, data_text = no_figures_text(trainer), "Evaluation data: none."
    return dict(
        evaluation_data=data_text,
        eval_accuracy=metric_text(evaluation.get("eval_accuracy"), 4),
        eval_perplexity=metric_text(evaluation.get("eval_perplexity"), 2),
        eval_nll=metric_text(evaluation.get("eval_nll"), 4),
        eval_masked_tokens=f"{evaluation['eval_masked_tokens']:,}" if "eval_masked_tokens" in evaluation else "-",
        evaluation_source=source,
        evaluation_command=evaluation_command(trainer, arguments, max_seq_len),
    )


def eval_results(trainer: Trainer, arguments: TrainArguments) -> list[EvalResult]:
    """The model-index entries (masked-token accuracy and perplexity) of the latest evaluation; [] if none."""
    evaluation = latest_evaluation(trainer) or {}
    dataset_type, dataset_name = evaluation_set(arguments)
    metrics = [("accuracy", "Masked-token accuracy", "eval_accuracy"), ("perplexity", "Perplexity", "eval_perplexity")]
    return [
        EvalResult(
            task_type="fill-mask",
            task_name="Masked language modelling",
            dataset_type=dataset_type,
            dataset_name=dataset_name,
            dataset_config=arguments.data.dataset_config_name,
            dataset_split="validation",
            metric_type=metric_type,
            metric_name=metric_name,
            metric_value=float(evaluation[key]),
        )
        for metric_type, metric_name, key in metrics
        if isinstance(evaluation.get(key), (int, float)) and math.isfinite(evaluation[key])
    ]


# --- model, tokenizer, license ----------------------------------------------------------------------------------


def origin_text(arguments: TrainArguments, base_card: dict[str, Any]) -> str:
    """Where the model comes from: fine-tuned from a Hub model or local folder, or trained from scratch."""
    model = arguments.model
    if model.model_name_or_path:
        hub_id = hub_repo_id(model.model_name_or_path)
        if hub_id:
            return f"fine-tuned from [`{hub_id}`](https://huggingface.co/{hub_id}) (revision `{model.model_revision}`)"
        ancestor = base_card.get("base_model")
        lineage = f", which its model card derives from `{ancestor}`" if ancestor else ""
        return f"fine-tuned from the local model folder `{model.model_name_or_path}`{lineage}"
    source = f"the `{model.preset}` preset" if model.preset else f"the configuration `{model.config_name}`"
    return f"trained from scratch (random initialisation) from {source}"


def tokenizer_text(tokenizer: Any, arguments: TrainArguments) -> str:
    """The tokenizer, in one line."""
    if isinstance(tokenizer, PerceiverByteTokenizer):
        return "UTF-8 bytes (`PerceiverByteTokenizer`): id = byte + 6; `[PAD]` 0, `[BOS]` 1, `[EOS]` 2, `[MASK]` 3, " \
            "`[CLS]` 4, `[SEP]` 5 (vocabulary 262)"  # fmt: skip
    name = arguments.model.tokenizer_name or arguments.model.model_name_or_path
    mask = f", mask token `{tokenizer.mask_token}`" if tokenizer.mask_token is not None else ""
    return f"`{type(tokenizer).__name__}` from `{name}`: {len(tokenizer):,} tokens{mask}"


def license_fields(arguments: TrainArguments, base_card: dict[str, Any]) -> tuple[str, str]:
    """(license id, sentence for the card): --card_license, else the base model's, else "unknown"."""
    if arguments.model.card_license:
        return arguments.model.card_license, f"`{arguments.model.card_license}` (given with `--card_license`)"
    if base_card.get("license"):
        return str(base_card["license"]), f"`{base_card['license']}`, the license of the base model " \
            f"`{arguments.model.model_name_or_path}` (from its model card)"  # fmt: skip
    return UNKNOWN_LICENSE, "not declared: pass `--card_license` to `perceiver-hf train`, or edit this card's metadata"


# --- the card ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RunCardBasics:
    """What every card of a `perceiver-hf train` run states: the base model's card, license, name and command."""

    base_card: dict[str, Any]  # the base model's card data ({} when training from scratch)
    license: str
    license_note: str
    name: str  # the output folder's name
    command_text: str
    config_text: str


def run_card_basics(trainer: Trainer, arguments: TrainArguments, command: Optional[RunCommand]) -> RunCardBasics:
    """The `RunCardBasics` of the run `trainer` has done with `arguments` (every task's card)."""
    model_args = arguments.model
    base_card = (
        source_card_data(model_args.model_name_or_path, model_args.model_revision, model_args.cache_dir)
        if model_args.model_name_or_path else {}
    )  # fmt: skip
    license, license_note = license_fields(arguments, base_card)
    command_text, config_text = command_fields(trainer, arguments, command)
    return RunCardBasics(base_card, license, license_note, Path(model_path(trainer)).name, command_text, config_text)


def render_training_card(trainer: Trainer, arguments: TrainArguments, command: Optional[RunCommand] = None) -> str:
    """The `perceiver-trained` model card of the run `trainer` has done with `arguments`."""
    model, model_args = trainer.model, arguments.model
    max_seq_len = arguments.data.max_seq_len or model.config.max_seq_len
    basics = run_card_basics(trainer, arguments, command)
    base_card, license, license_note, name = basics.base_card, basics.license, basics.license_note, basics.name
    command_text, config_text = basics.command_text, basics.config_text
    is_bytes = isinstance(trainer.processing_class, PerceiverByteTokenizer)
    hub_dataset = hub_repo_id(arguments.data.dataset_name, namespace_required=False)  # not a local folder
    return render_model_card(
        TEMPLATE,
        metadata=hub_metadata(
            license=license,
            tags=["byte-level"] if is_bytes else [],
            datasets=[hub_dataset] if hub_dataset else None,
            base_model=hub_repo_id(model_args.model_name_or_path),
            model_name=name,
            eval_results=eval_results(trainer, arguments),
        ),
        title=name,
        origin=origin_text(arguments, base_card),
        num_parameters=f"{model.num_parameters():,}",
        architecture=architecture_summary(model.config),
        tokenizer_description=tokenizer_text(trainer.processing_class, arguments),
        max_seq_len=model.config.max_seq_len,
        license_note=license_note,
        model_path=model_path(trainer),
        training_data=training_data_text(trainer, arguments, max_seq_len),
        training_procedure=training_procedure_text(trainer, arguments),
        perceiver_hf_version=package_version(),
        training_command=command_text,
        training_config=config_text,
        data_name=data_name(arguments),
        **evaluation_fields(trainer, arguments, max_seq_len),
    )


class ModelCardTrainer(Trainer):
    """A `Trainer` whose `create_model_card` writes the card `render_card(trainer)` returns to output_dir/README.md.

    `Trainer.push_to_hub` calls `create_model_card` right before uploading output_dir, so the pushed card is this
    one (transformers' auto-generated card and its keyword arguments are not used).
    """

    def __init__(self, *args: Any, render_card: Callable[[Trainer], str], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.render_card = render_card

    def create_model_card(self, **kwargs: Any) -> None:
        """Write README.md into output_dir (main process only); `kwargs` (transformers' card fields) are ignored."""
        if not self.is_world_process_zero():
            return
        path = Path(self.args.output_dir) / MODEL_CARD_NAME
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(self.render_card(self), encoding="utf-8")


__all__ = [
    "MODEL_CARD_NAME",
    "ModelCardTrainer",
    "RunCardBasics",
    "TEMPLATE",
    "data_name",
    "evaluation_set",
    "held_out_text",
    "latest_evaluation",
    "metric_text",
    "optimisation_text",
    "origin_text",
    "render_training_card",
    "run_card_basics",
    "tokenizer_text",
    "training_data_text",
]
