"""`perceiver-hf train --task ...`: which model to train (a Perceiver IO masked LM by default, a Perceiver IO
classifier, or a Perceiver AR causal LM) and, for the classifiers, where the labels are."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

TASKS = ("fill-mask", "text-classification", "token-classification", "causal-lm")
CLASSIFICATION_TASKS = ("text-classification", "token-classification")


@dataclass
class TaskArguments:
    """The task and, for the classification tasks, the label column and names."""

    task: str = field(
        default="fill-mask",
        metadata={
            "help": "fill-mask (masked-LM pre-training, the default), text-classification (one label per text) or "
            "token-classification (a list of words with one label per word, or a string with one label per token: "
            "per UTF-8 byte with the byte tokenizer) or causal-lm (a Perceiver AR causal language model: next-token "
            "prediction at the last max_latents positions of each example).",
            "choices": list(TASKS),
        },
    )
    label_column_name: str = field(
        default="label", metadata={"help": "Column holding the labels (classification tasks).", "aliases": ["--label_column"]}
    )
    label_list: Optional[str] = field(
        default=None,
        metadata={
            "help": "Comma-separated label names, in id order (default: the sorted labels of the training data). "
            "Integer labels in the data are ids into this list. (transformers' --label_names is another thing: "
            "the names of the label inputs.)"
        },
    )
    early_stopping_patience: Optional[int] = field(
        default=None,
        metadata={
            "help": "Stop when the eval metric (--metric_for_best_model, default f1) has not improved for this many "
            "evaluations (classification tasks; needs --eval_strategy and --save_strategy to match)."
        },
    )

    @property
    def is_classification(self) -> bool:
        return self.task in CLASSIFICATION_TASKS

    @property
    def is_causal_lm(self) -> bool:
        return self.task == "causal-lm"

    def names(self) -> Optional[list[str]]:
        """`label_list` as a list (None when not given)."""
        if self.label_list is None:
            return None
        names = [name.strip() for name in self.label_list.split(",")]
        if not all(names) or len(set(names)) != len(names):
            raise ValueError(f"--label_list {self.label_list!r}: give distinct, non-empty names separated by commas.")
        return names


__all__ = ["CLASSIFICATION_TASKS", "TASKS", "TaskArguments"]
