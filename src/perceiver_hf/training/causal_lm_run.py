"""`perceiver-hf train --task causal-lm`: the `Trainer` of a Perceiver AR causal language model run.

Same front as the masked-LM run (model, data and training arguments, output folder checks, saving, loss curve,
card, push_to_hub: see `run.py`); what differs is built here:

- data: the masked-LM task's tokenization and grouping (`tokenize_and_group`): text concatenated and cut into
  examples of `max_seq_len` tokens (one per record with `--line_by_line`). The last block of each group of records
  (and every `--line_by_line` record) may be shorter: it is kept and left-padded, with an attention mask and -100
  labels on the padding, not dropped as run_clm.py's `group_texts` does, so that no text is lost and a small
  validation file still gives examples. Left padding is what the model takes: positions count real tokens, the
  padding is masked in every attention, and the last `max_latents` positions, the latents, stay the end of the
  text, as in generation;
- the collator: transformers' `DataCollatorForLanguageModeling(mlm=False)` with the tokenizer padding on the left,
  labels -100 except at the tokens the latents predict (`CausalLMCollator`); `PerceiverForCausalLM` computes the
  next-token loss at the latents;
- the model: `PerceiverForCausalLM`, new from a `PerceiverARConfig` (`--preset tiny|perceiver_ar`,
  `--config_name`, the config flags) or fine-tuned from a perceiver_ar folder; the library's prefix dropout
  (`cross_attention_dropout`) is active in training mode only;
- evaluation: `Trainer`'s eval_loss plus perplexity, mean cross-entropy and accuracy over every predicted token;
- the card: template `perceiver-ar-trained`; the tokenizer is saved with model_max_length = max_seq_len and left
  padding, so that `pipeline("text-generation")` batches as the model needs.
"""

from __future__ import annotations

import math
from typing import Any, Optional

from datasets import DatasetDict
from huggingface_hub import EvalResult
from transformers import PreTrainedTokenizerBase, Trainer

from ..modeling_perceiver_ar import PerceiverForCausalLM
from ..model_cards import render_model_card
from ..model_cards.fields import causal_lm_summary, hub_metadata, hub_repo_id
from ..tokenization_perceiver import PerceiverByteTokenizer
from ..version import package_version
from .causal_lm_collator import CausalLMCollator
from .data import tokenize_and_group
from .metrics import compute_causal_lm_metrics, preprocess_causal_logits_for_metrics
from .model_setup import PERCEIVER_AR, ModelSetup, build_model
from .parsing import TrainArguments
from .run_command import RunCommand, evaluation_command, model_path
from .task_trainer import TaskData, TaskTrainerOptions
from .training_card import (
    evaluation_set,
    held_out_text,
    metric_text,
    no_figures_text,
    data_name,
    latest_evaluation,
    optimisation_text,
    origin_text,
    run_card_basics,
    tokenizer_text,
    training_data_text,
)

CAUSAL_LM_CARD_TEMPLATE = "perceiver-ar-trained"
"""The model card template of a `perceiver-hf train --task causal-lm` run."""


class CausalLMTask:
    """The causal-LM task of `build_task_trainer` (see the module docstring)."""

    family = PERCEIVER_AR

    def prepare(
        self, raw: DatasetDict, tokenizer: PreTrainedTokenizerBase, setup: ModelSetup, arguments: TrainArguments
    ) -> TaskData:
        if tokenizer.pad_token is None:
            raise ValueError(
                f"The tokenizer {type(tokenizer).__name__} has no padding token, which the examples shorter than "
                "--max_seq_len need: use a tokenizer with one (e.g. --tokenizer_name byte)."
            )
        tokenizer.model_max_length = setup.config.max_seq_len  # saved with the model: truncation=True fits it
        tokenizer.padding_side = "left"  # saved too: the padding a causal LM's batches need
        training_args = arguments.training
        prepared = tokenize_and_group(
            raw, tokenizer, arguments.data, setup.max_seq_len,
            main_process_first=lambda desc: training_args.main_process_first(desc=desc),
        )  # fmt: skip
        collator = CausalLMCollator(tokenizer, max_latents=setup.config.max_latents)
        return TaskData(datasets=dict(prepared), collator=collator)

    def trainer_options(self, data: TaskData, arguments: TrainArguments) -> TaskTrainerOptions:
        if arguments.model.freeze_encoder:
            raise ValueError(
                "--freeze_encoder trains only a Perceiver IO decoder; a Perceiver AR causal LM has none: drop it."
            )
        evaluating = arguments.training.do_eval
        return TaskTrainerOptions(
            compute_metrics=compute_causal_lm_metrics if evaluating else None,
            preprocess_logits_for_metrics=preprocess_causal_logits_for_metrics if evaluating else None,
        )

    def build_model(self, setup: ModelSetup, arguments: TrainArguments) -> PerceiverForCausalLM:
        return build_model(arguments.model, setup, PerceiverForCausalLM)

    def render_card(self, trainer: Trainer, arguments: TrainArguments, command: Optional[RunCommand] = None) -> str:
        return render_causal_lm_card(trainer, arguments, command)


def _procedure_text(trainer: Trainer) -> str:
    config = trainer.model.config
    return (
        "Causal language modelling with `perceiver-hf train --task causal-lm` (transformers `Trainer`): the "
        f"last {config.max_latents} positions of each example are the latents, each scored on the token after it "
        f"(next-token cross-entropy); the library's prefix dropout leaves out {config.cross_attention_dropout:.0%} "
        "of the other positions at random in every training step. " + optimisation_text(trainer)
    )


def _evaluation_fields(trainer: Trainer, arguments: TrainArguments, max_seq_len: int) -> dict[str, str]:
    evaluation = latest_evaluation(trainer) or {}
    if evaluation:
        source = (
            f"Measured by the run above (`Trainer.evaluate` at step {evaluation.get('step')}; the run writes the "
            "same figures to `eval_results.json`)."
        )
        data_text = (
            f"Evaluation data: {held_out_text(arguments)}, {len(trainer.eval_dataset or ()):,} examples of at most "
            f"{max_seq_len} tokens, each scored at its latent positions (no prefix dropout); perplexity = exp(mean "
            "cross-entropy of every predicted token)."
        )
    else:
        source, data_text = no_figures_text(trainer), "Evaluation data: none."
    tokens = evaluation.get("eval_predicted_tokens")
    return dict(
        evaluation_data=data_text,
        eval_loss=metric_text(evaluation.get("eval_loss"), 4),
        eval_perplexity=metric_text(evaluation.get("eval_perplexity"), 2),
        eval_nll=metric_text(evaluation.get("eval_nll"), 4),
        eval_accuracy=metric_text(evaluation.get("eval_accuracy"), 4),
        eval_predicted_tokens=f"{tokens:,}" if isinstance(tokens, int) else "-",
        evaluation_source=source,
        evaluation_command=evaluation_command(trainer, arguments, max_seq_len),
    )


def _eval_results(trainer: Trainer, arguments: TrainArguments) -> list[EvalResult]:
    """The model-index entry (perplexity) of the latest evaluation; [] if none."""
    perplexity = (latest_evaluation(trainer) or {}).get("eval_perplexity")
    if not isinstance(perplexity, (int, float)) or not math.isfinite(perplexity):
        return []
    dataset_type, dataset_name = evaluation_set(arguments)
    return [
        EvalResult(
            task_type="text-generation", task_name="Causal language modelling", dataset_type=dataset_type,
            dataset_name=dataset_name, dataset_config=arguments.data.dataset_config_name, dataset_split="validation",
            metric_type="perplexity", metric_name="Perplexity", metric_value=float(perplexity),
        )
    ]  # fmt: skip


def render_causal_lm_card(trainer: Trainer, arguments: TrainArguments, command: Optional[RunCommand] = None) -> str:
    """README.md of a causal-LM run: model, data, training, evaluation, the command, usage."""
    model, model_args = trainer.model, arguments.model
    max_seq_len = arguments.data.max_seq_len or model.config.max_seq_len
    basics = run_card_basics(trainer, arguments, command)
    hub_dataset = hub_repo_id(arguments.data.dataset_name, namespace_required=False)
    is_bytes = isinstance(trainer.processing_class, PerceiverByteTokenizer)
    metadata = hub_metadata(
        license=basics.license,
        tags=["perceiver-ar", "causal-lm", *(["byte-level"] if is_bytes else [])],
        datasets=[hub_dataset] if hub_dataset else None,
        base_model=hub_repo_id(model_args.model_name_or_path),
        model_name=basics.name,
        eval_results=_eval_results(trainer, arguments),
        pipeline_tag="text-generation",
    )
    fields: dict[str, Any] = dict(
        metadata=metadata,
        title=basics.name,
        origin=origin_text(arguments, basics.base_card),
        num_parameters=f"{model.num_parameters():,}",
        architecture=causal_lm_summary(model.config),
        tokenizer_description=tokenizer_text(trainer.processing_class, arguments),
        max_seq_len=model.config.max_seq_len,
        license_note=basics.license_note,
        model_path=model_path(trainer),
        training_data=training_data_text(trainer, arguments, max_seq_len),
        training_procedure=_procedure_text(trainer),
        perceiver_hf_version=package_version(),
        training_command=basics.command_text,
        training_config=basics.config_text,
        data_name=data_name(arguments),
        **_evaluation_fields(trainer, arguments, max_seq_len),
    )
    return render_model_card(CAUSAL_LM_CARD_TEMPLATE, **fields)


__all__ = ["CAUSAL_LM_CARD_TEMPLATE", "CausalLMTask", "render_causal_lm_card"]
