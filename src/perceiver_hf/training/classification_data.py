"""Data of the classification tasks: label names and ids, tokenized texts and per-token labels, clear errors.

text-classification: a text column (strings) and a label column (one label per record: a name or an id).
token-classification, two layouts: a text column holding a list of words per record and a label column holding
one label per word (the CoNLL layout of Hub datasets): the words are joined with spaces, every token of a word gets
the word's label (a B-X word's later tokens I-X) and tokens between words -100. Or a text column holding a string
and a label column holding one label per token of it, as the tokenizer splits it (with the byte tokenizer, which
adds no special tokens: one label per UTF-8 byte), used as they are.
"""

from __future__ import annotations

import logging
from typing import Any, Optional, Sequence

from datasets import Dataset, DatasetDict
from transformers import PreTrainedTokenizerBase

from .classification_metrics import is_bio

logger = logging.getLogger(__name__)
IGNORED = -100


MAX_ID_SPREAD = 4
"""Without --label_list, integer label ids may reach at most MAX_ID_SPREAD x (distinct ids) + 16: ids are meant to
be 0..k-1, and a stray huge id must not make a label list of its size."""


def normalise_label(value: Any, split: str, row: int) -> int | str:
    """One label cell as an id (int) or a name (str); refuses a missing or non-class value naming its row.

    Integral floats are ids (CSV readers turn an integer column with gaps into floats: 1.0 -> 1).
    """
    if value is None or (isinstance(value, float) and value != value) or (isinstance(value, str) and not value.strip()):
        raise ValueError(
            f"The {split} data has no label in row {row + 1}; give every record a label (or drop the record)."
        )
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, float):
        if not value.is_integer():
            raise ValueError(
                f"The {split} data has label {value!r} in row {row + 1}, which is not a class (an id or a name); "
                "--task text-classification / token-classification train classifiers, not regression."
            )
        return int(value)
    if isinstance(value, (int, str)):
        return value.strip() if isinstance(value, str) else value
    raise ValueError(
        f"The {split} data has a label of type {type(value).__name__} in row {row + 1} ({str(value)[:40]!r}); a "
        "label is a class name (string) or a class id (integer)."
    )


def _labels(dataset: Dataset, column: str, task: str, split: str) -> list[int | str]:
    """Every label cell of `dataset`, normalised (`normalise_label`); a token task's rows are lists of labels."""
    labels = []
    for row, cell in enumerate(dataset[column]):
        cells = (cell if isinstance(cell, list) else [cell]) if task == "token-classification" else [cell]
        if task == "token-classification" and not cell:
            raise ValueError(f"The {split} data has no labels in row {row + 1}; give one label per word or token.")
        labels += [normalise_label(value, split, row) for value in cells]
    kinds = {type(label) for label in labels}
    if len(kinds) > 1:
        first_id = next(label for label in labels if isinstance(label, int))
        first_name = next(label for label in labels if isinstance(label, str))
        raise ValueError(
            f"The {split} data mixes label ids (e.g. {first_id}) and label names (e.g. {first_name!r}); use one kind: "
            "names, or ids with --label_list naming them."
        )
    return labels


def check_label_column(raw: DatasetDict, column: str) -> None:
    for split, dataset in raw.items():
        if column not in dataset.column_names:
            raise ValueError(
                f"The {split} data has no label column {column!r}; its columns are {dataset.column_names}. Pass "
                "--label_column with the column that holds the labels."
            )


def _names_from_ids(ids: list[int]) -> list[str]:
    """Names "0".."max" for integer ids without --label_list, refusing ids spread far beyond their count."""
    distinct = set(ids)
    if min(distinct) < 0:
        raise ValueError(f"The train data has label id {min(distinct)}; label ids start at 0.")
    limit = MAX_ID_SPREAD * len(distinct) + 16
    if max(distinct) >= limit:
        raise ValueError(
            f"The train data has label id {max(distinct)} but only {len(distinct)} distinct ids; ids are 0..k-1. "
            "Fix the data, or pass --label_list with one name per id."
        )
    return [str(i) for i in range(max(distinct) + 1)]


def resolve_label_names(raw: DatasetDict, column: str, task: str, given: Optional[list[str]]) -> list[str]:
    """The label names in id order: `given` (--label_list), else the sorted labels of the training data.

    Raises ValueError (one line) for a missing label (naming its row), a label that is no class (a fraction, a
    list), ids mixed with names, fewer than two labels, a label id outside the names, a label name not among
    them, and an evaluation label that the training data never has.
    """
    check_label_column(raw, column)
    labels = {split: _labels(dataset, column, task, split) for split, dataset in raw.items()}
    train = labels.get("train", [])
    if given is None:
        if train and isinstance(train[0], int):
            names = _names_from_ids(train)  # type: ignore[arg-type]
        else:
            names = sorted({str(v) for v in train})
        if task == "token-classification" and is_bio(names):  # a word's later tokens are I-X, even if no word is
            names = sorted({*names, *("I-" + name[2:] for name in names if name.startswith("B-"))})
    else:
        names = given
    if train and len(names) < 2:
        raise ValueError(
            f"There is only one label ({names[0]!r}) {'in --label_list' if given else 'in the training data'}; a "
            "classifier needs at least two classes. Add records of another class (or name all classes with "
            "--label_list)."
        )
    if given is None and "validation" in labels and "train" in labels:
        unseen = sorted({str(v) for v in labels["validation"]} - {str(v) for v in train})
        if unseen:
            raise ValueError(
                f"The validation data has label(s) {unseen[:5]} that the training data never has; the model would "
                "have no class for them. Add training records with them, or pass --label_list with every label."
            )
    for split, values in labels.items():
        for value in values:
            _label_id(value, names, split)
    return names


def _label_id(value: Any, names: Sequence[str], split: str) -> int:
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, int) and not isinstance(value, bool):
        if not 0 <= value < len(names):
            raise ValueError(
                f"The {split} data has label id {value}, outside [0, {len(names)}) of the {len(names)} labels; pass "
                "--label_list with one name per label id."
            )
        return value
    if str(value).strip() not in names:
        raise ValueError(
            f"The {split} data has label {value!r}, which is not one of the labels {list(names)[:10]}; fix the data "
            "or --label_list."
        )
    return list(names).index(str(value).strip())


def _token_labels(
    words: Sequence[str], word_labels: Sequence[int], offsets: Sequence[tuple[int, int]], names: Sequence[str]
) -> list[int]:
    """One label per token from one per word (`offsets`: each token's character span in " ".join(words)).

    A token takes the word of the character its span ends in, so the continuation bytes of a multi-byte character
    (an empty span at the character's end with the tokenizer's ``trim_offsets``) share its first byte's label.
    """
    if len(words) != len(word_labels):
        raise ValueError(f"A record has {len(words)} words but {len(word_labels)} labels; give one label per word.")
    word_of_char: list[Optional[int]] = []
    for index, word in enumerate(words):
        word_of_char += [index] * len(word) + [None]
    bio, seen, labels = is_bio(names), set(), []
    for _, end in offsets:
        word = word_of_char[end - 1] if 0 < end <= len(word_of_char) else None
        if word is None:
            labels.append(IGNORED)
            continue
        label = word_labels[word]
        if word in seen and bio and names[label].startswith("B-"):
            label = list(names).index("I-" + names[label][2:]) if "I-" + names[label][2:] in names else label
        seen.add(word)
        labels.append(label)
    return labels


def _per_token_labels(values: Sequence[Any], num_tokens: int, names: Sequence[str], split: str) -> list[int]:
    """Label ids of a record whose text is a string and whose labels are one per token of it."""
    if len(values or []) != num_tokens:
        raise ValueError(
            f"A {split} record's text is {num_tokens} tokens but has {len(values or [])} labels; with a string text "
            "column give one label per token (the byte tokenizer: one per UTF-8 byte), or make the text a list of "
            "words with one label per word."
        )
    return [_label_id(value, names, split) for value in values]


def encode_split(
    dataset: Dataset,
    split: str,
    tokenizer: PreTrainedTokenizerBase,
    text_column: str,
    label_column: str,
    names: Sequence[str],
    task: str,
    max_seq_len: int,
) -> Dataset:
    """Tokenize `dataset` (truncated to `max_seq_len`, logging how many were) with `labels` for `task`."""
    records, truncated = [], 0
    for row in dataset:
        text = row[text_column]
        per_token = task == "token-classification" and isinstance(text, str)
        words = list(text or []) if task == "token-classification" and not per_token else None
        text = " ".join(words) if words is not None else (text if isinstance(text, str) else "")
        encoded = tokenizer(text, return_offsets_mapping=words is not None, verbose=False)
        ids = encoded["input_ids"]
        truncated += len(ids) > max_seq_len
        if per_token:
            labels: Any = _per_token_labels(row[label_column], len(ids), names, split)[:max_seq_len]
        elif words is None:
            labels = _label_id(row[label_column], names, split)
        else:
            word_labels = [_label_id(v, names, split) for v in row[label_column]]
            labels = _token_labels(words, word_labels, encoded["offset_mapping"], names)[:max_seq_len]
        records.append({"input_ids": ids[:max_seq_len], "attention_mask": [1] * min(len(ids), max_seq_len),
                        "labels": labels})
    if truncated:
        logger.warning(
            "%d of %d %s texts are longer than max_seq_len=%d tokens and were truncated (pass --max_seq_len up to the "
            "model's max_seq_len to keep more).", truncated, len(records), split, max_seq_len,
        )
    return Dataset.from_list(records)


def prepare_classification_datasets(
    raw: DatasetDict,
    tokenizer: PreTrainedTokenizerBase,
    text_column: str,
    label_column: str,
    names: Sequence[str],
    task: str,
    max_seq_len: int,
    limits: dict[str, Optional[int]],
) -> DatasetDict:
    """Every split encoded (`encode_split`), cut to `limits[split]` records when given."""
    prepared = {}
    for split, dataset in raw.items():
        if limits.get(split) is not None:
            dataset = dataset.select(range(min(limits[split], len(dataset))))
        prepared[split] = encode_split(dataset, split, tokenizer, text_column, label_column, names, task, max_seq_len)
    return DatasetDict(prepared)


__all__ = ["check_label_column", "encode_split", "normalise_label", "prepare_classification_datasets", "resolve_label_names"]
