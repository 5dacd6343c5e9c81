"""Recipes of transformers' example scripts, written out as the scripts have them, for tests on perceiver folders."""

from __future__ import annotations

from typing import Any


def tokenize_and_align_labels(tokenizer, examples: dict, label_all_tokens: bool = False) -> Any:
    """run_ner.py's recipe (transformers 5.x examples), with label ids given directly."""
    tokenized_inputs = tokenizer(examples["tokens"], truncation=True, is_split_into_words=True)
    labels = []
    for i, label in enumerate(examples["ner_tags"]):
        word_ids = tokenized_inputs.word_ids(batch_index=i)
        previous_word_idx = None
        label_ids = []
        for word_idx in word_ids:
            if word_idx is None:
                label_ids.append(-100)
            elif word_idx != previous_word_idx:
                label_ids.append(label[word_idx])
            else:
                label_ids.append(label[word_idx] if label_all_tokens else -100)
            previous_word_idx = word_idx
        labels.append(label_ids)
    tokenized_inputs["labels"] = labels
    return tokenized_inputs
