"""The recipes of transformers' example scripts (run_mlm.py, run_ner.py, run_classification.py) on perceiver folders.

Each recipe is written as the example script has it (transformers 5.x examples/pytorch), with its defaults, on a
tiny folder saved with a fresh tokenizer (model_max_length 2048, model max_seq_len 128): the scripts read the
model's length from the tokenizer. References: the data itself (labels per word, text bytes), not the code.
"""

from __future__ import annotations

import functools
from itertools import chain

import numpy as np
import pytest
import torch
from conftest import make_tiny_model
from datasets import Dataset
from helpers.classifier_folders import save_classifier_folder
from helpers.memorised_mlm import save_model_folder
from helpers.recipes import tokenize_and_align_labels
from transformers import (
    AutoModelForMaskedLM,
    AutoModelForSequenceClassification,
    AutoModelForTokenClassification,
    AutoTokenizer,
    DataCollatorForLanguageModeling,
    DataCollatorForTokenClassification,
    DataCollatorWithPadding,
    Trainer,
    TrainingArguments,
)

import perceiver_hf  # noqa: F401  (registers the Auto classes)
from perceiver_hf import PerceiverForSequenceClassification, PerceiverForTokenClassification
from perceiver_hf.training.classification_metrics import entity_f1

MAX_SEQ_LEN = 128
TEXTS = ["The quick brown fox jumps over the lazy dog. " * 4, "Perceiver IO reads bytes: é, 中文, 😀.", "short"]


def test_run_mlm_group_texts_and_masking_collator(tmp_path):
    """run_mlm.py: block_size = min(1024, model_max_length), group_texts, DataCollatorForLanguageModeling."""
    folder = save_model_folder(make_tiny_model(seed=0), tmp_path / "mlm")
    tokenizer = AutoTokenizer.from_pretrained(folder)
    block_size = min(1024, tokenizer.model_max_length)  # run_mlm's default when --max_seq_length is not given
    assert block_size == MAX_SEQ_LEN

    def tokenize_function(examples):
        return tokenizer(examples["text"], return_special_tokens_mask=True)

    def group_texts(examples):
        concatenated_examples = {k: list(chain(*examples[k])) for k in examples.keys()}
        total_length = len(concatenated_examples[list(examples.keys())[0]])
        total_length = (total_length // block_size) * block_size
        return {
            k: [t[i : i + block_size] for i in range(0, total_length, block_size)]
            for k, t in concatenated_examples.items()
        }

    dataset = Dataset.from_dict({"text": TEXTS * 3}).map(tokenize_function, batched=True, remove_columns=["text"])
    grouped = dataset.map(group_texts, batched=True)
    all_bytes = b"".join(text.encode("utf-8") for text in TEXTS * 3)
    assert len(grouped) == len(all_bytes) // MAX_SEQ_LEN
    assert grouped[1]["input_ids"] == [byte + 6 for byte in all_bytes[MAX_SEQ_LEN : 2 * MAX_SEQ_LEN]]

    collator = DataCollatorForLanguageModeling(tokenizer, mlm_probability=0.15)
    torch.manual_seed(0)
    batch = collator([grouped[i] for i in range(len(grouped))])
    masked = batch["labels"] != -100
    assert batch["input_ids"].shape == (len(grouped), MAX_SEQ_LEN) and 0 < masked.float().mean() < 0.3
    model = AutoModelForMaskedLM.from_pretrained(folder)
    assert torch.isfinite(model(**batch).loss)


def test_run_ner_alignment_padding_and_word_level_metrics(tmp_path):
    """run_ner.py: tokenize_and_align_labels, DataCollatorForTokenClassification, its compute_metrics' filtering."""
    folder = save_classifier_folder(PerceiverForTokenClassification, tmp_path / "ner", num_labels=3)
    label_list = ["O", "B-X", "I-X"]
    words = [["Hello", "New", "York"], ["é", "中文", "x", "😀"]]
    tags = [[0, 1, 2], [1, 0, 0, 1]]
    tokenizer = AutoTokenizer.from_pretrained(folder)

    dataset = Dataset.from_dict({"tokens": words, "ner_tags": tags}).map(
        functools.partial(tokenize_and_align_labels, tokenizer), batched=True, remove_columns=["tokens", "ner_tags"]
    )
    batch = DataCollatorForTokenClassification(tokenizer)([dataset[0], dataset[1]])
    assert batch["labels"].shape == batch["input_ids"].shape
    model = AutoModelForTokenClassification.from_pretrained(folder)
    with torch.no_grad():
        output = model(**batch)
    assert torch.isfinite(output.loss)

    predictions = np.argmax(output.logits.numpy(), axis=2)  # compute_metrics of run_ner.py from here on
    labels = batch["labels"].numpy()
    true_predictions = [
        [label_list[p] for (p, l) in zip(prediction, label) if l != -100]
        for prediction, label in zip(predictions, labels)
    ]
    true_labels = [
        [label_list[l] for (p, l) in zip(prediction, label) if l != -100]
        for prediction, label in zip(predictions, labels)
    ]
    assert true_labels == [[label_list[t] for t in row] for row in tags]  # one label per word, in order
    assert [len(row) for row in true_predictions] == [len(row) for row in words]
    assert entity_f1(true_labels, true_labels)["f1"] == pytest.approx(1.0)


def test_run_classification_preprocessing_and_trainer(tmp_path):
    """run_classification.py: max_seq_length = min(128, model_max_length), truncation, padding collator, Trainer."""
    folder = save_classifier_folder(PerceiverForSequenceClassification, tmp_path / "cls", num_labels=2, max_seq_len=64)
    tokenizer = AutoTokenizer.from_pretrained(folder)
    max_seq_length = min(128, tokenizer.model_max_length)  # the script's --max_seq_length default, capped
    assert max_seq_length == 64

    def preprocess_function(examples):
        result = tokenizer(examples["sentence"], padding=False, max_length=max_seq_length, truncation=True)
        result["label"] = examples["label"]
        return result

    raw = Dataset.from_dict({"sentence": TEXTS * 2, "label": [0, 1, 0, 1, 0, 1]})
    train_dataset = raw.map(preprocess_function, batched=True, remove_columns=["sentence"])
    assert max(len(ids) for ids in train_dataset["input_ids"]) == 64  # the first text (180 bytes) was cut
    model = AutoModelForSequenceClassification.from_pretrained(folder)
    args = TrainingArguments(
        output_dir=str(tmp_path / "out"), per_device_train_batch_size=3, max_steps=2, report_to=[], use_cpu=True
    )
    trainer = Trainer(
        model=model, args=args, train_dataset=train_dataset, data_collator=DataCollatorWithPadding(tokenizer)
    )
    result = trainer.train()
    assert result.global_step == 2 and np.isfinite(result.training_loss)
