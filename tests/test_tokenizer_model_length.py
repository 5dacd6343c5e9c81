"""A tokenizer loaded from a model folder knows the model's `max_seq_len`; truncation to it says what it dropped.

References: the `max_seq_len` written into each folder's config.json by the test itself, and lengths counted by
hand (one token per UTF-8 byte).
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest
from conftest import make_tiny_config
from transformers import AutoTokenizer

import perceiver_hf  # noqa: F401  (registers the Auto classes)
from perceiver_hf.tokenization_perceiver import DEFAULT_MODEL_MAX_LENGTH, PerceiverByteTokenizer

LOGGER = "perceiver_hf.tokenization_perceiver"


def model_folder(folder: Path, max_seq_len: int, **tokenizer_kwargs) -> Path:
    """A folder with a config.json of `max_seq_len` and a byte tokenizer saved with `tokenizer_kwargs`."""
    make_tiny_config(max_seq_len=max_seq_len).save_pretrained(folder)
    PerceiverByteTokenizer(**tokenizer_kwargs).save_pretrained(folder)
    return folder


def drop_saved_length(folder: Path) -> None:
    path = folder / "tokenizer_config.json"
    saved = json.loads(path.read_text(encoding="utf-8"))
    del saved["model_max_length"]
    path.write_text(json.dumps(saved), encoding="utf-8")


def test_a_fresh_tokenizer_keeps_deepminds_length():
    assert DEFAULT_MODEL_MAX_LENGTH == 2048  # DeepMind's language Perceiver IO
    assert PerceiverByteTokenizer().model_max_length == 2048


def test_a_folder_tokenizer_without_a_saved_length_takes_the_models(tmp_path):
    folder = model_folder(tmp_path, max_seq_len=96)
    drop_saved_length(folder)
    assert AutoTokenizer.from_pretrained(folder).model_max_length == 96
    assert PerceiverByteTokenizer.from_pretrained(folder).model_max_length == 96


def test_a_saved_length_beyond_the_model_is_capped_and_a_shorter_one_kept(tmp_path):
    longer = model_folder(tmp_path / "longer", max_seq_len=96)  # a fresh tokenizer saved: 2048
    tokenizer = AutoTokenizer.from_pretrained(longer)
    assert tokenizer.model_max_length == 96
    assert len(tokenizer("x" * 300, truncation=True)["input_ids"]) == 96
    tokenizer.save_pretrained(tmp_path / "again")  # the capped length is what gets saved
    assert json.loads((tmp_path / "again" / "tokenizer_config.json").read_text())["model_max_length"] == 96
    shorter = model_folder(tmp_path / "shorter", max_seq_len=96, model_max_length=40)
    assert AutoTokenizer.from_pretrained(shorter).model_max_length == 40


def test_an_explicit_length_and_a_folder_without_a_model_are_left_alone(tmp_path):
    folder = model_folder(tmp_path / "model", max_seq_len=96)
    assert AutoTokenizer.from_pretrained(folder, model_max_length=500).model_max_length == 500
    alone = tmp_path / "tokenizer-only"
    PerceiverByteTokenizer(model_max_length=300).save_pretrained(alone)
    assert AutoTokenizer.from_pretrained(alone).model_max_length == 300
    drop_saved_length(alone)
    assert AutoTokenizer.from_pretrained(alone).model_max_length == DEFAULT_MODEL_MAX_LENGTH


def warnings_of(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == LOGGER and r.levelno == logging.WARNING]


@pytest.mark.parametrize("fast_batch_encoding", [True, False])
def test_truncating_to_the_models_limit_logs_the_lengths(caplog, fast_batch_encoding):
    tokenizer = PerceiverByteTokenizer(model_max_length=10, fast_batch_encoding=fast_batch_encoding)
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        batch = tokenizer(["é" * 15, "short", "x" * 12], truncation=True, padding=True)  # 30, 5 and 12 tokens
        words = tokenizer([["abcd"] * 3, ["a"]], is_split_into_words=True, truncation=True)  # 14 and 1 tokens
    assert [sum(mask) for mask in batch["attention_mask"]] == [10, 5, 10]
    assert [len(ids) for ids in words["input_ids"]] == [10, 1]
    message, words_message = warnings_of(caplog)
    assert "2 of 3 sequences" in message and "model_max_length=10" in message
    assert "longest had 30 tokens" in message and "22 tokens were dropped" in message
    assert "1 of 2 sequences" in words_message and "longest had 14 tokens" in words_message


def test_explicit_max_length_overflow_and_short_texts_truncate_silently(caplog):
    tokenizer = PerceiverByteTokenizer(model_max_length=10)
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        tokenizer("x" * 30, truncation=True, max_length=10)
        tokenizer("x" * 30, truncation=True, stride=2, return_overflowing_tokens=True)
        tokenizer(["x" * 10, "y"], truncation=True, return_tensors="pt", padding=True)
        tokenizer("x" * 30, truncation=True, verbose=False)
    assert warnings_of(caplog) == []
