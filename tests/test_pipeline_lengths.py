"""transformers' pipelines on texts longer than the model: `truncation=True` fits the model, `stride` covers all.

The tiny models take `max_seq_len=128` bytes; each folder is saved with a fresh `PerceiverByteTokenizer()`
(model_max_length 2048), so the pipelines only fit the model if the loaded tokenizer learns the model's length.
References: the text itself (one byte per token, ASCII), sliced by hand where each stride window must start.
"""

from __future__ import annotations

import logging

import pytest
import torch
from conftest import make_tiny_model
from helpers.classifier_folders import save_classifier_folder
from helpers.memorised_mlm import save_model_folder
from transformers import pipeline

import perceiver_hf  # noqa: F401  (registers the Auto classes)
from perceiver_hf import PerceiverForSequenceClassification, PerceiverForTokenClassification

MAX_SEQ_LEN = 128
TEXT = ("The quick brown fox jumps over the lazy dog. " * 9)[: 3 * MAX_SEQ_LEN]  # 3x the model's length, ASCII


def recorded_inputs(pipe) -> list[list[int]]:
    """The input_ids rows of every forward call of the pipeline's model (filled in as the pipeline runs)."""
    rows: list[list[int]] = []

    def record(module, args, kwargs):
        ids = kwargs.get("input_ids", args[0] if args else None)
        rows.extend(ids.tolist())

    pipe.model.register_forward_pre_hook(record, with_kwargs=True)
    return rows


def test_token_classification_with_stride_covers_a_text_three_times_the_model(tmp_path):
    folder = save_classifier_folder(PerceiverForTokenClassification, tmp_path / "tokens", max_seq_len=MAX_SEQ_LEN)
    pipe = pipeline("token-classification", model=str(folder), aggregation_strategy="simple", ignore_labels=[])
    assert pipe.tokenizer.model_max_length == MAX_SEQ_LEN
    stride = 32
    rows = recorded_inputs(pipe)
    entities = pipe(TEXT, stride=stride)
    step = MAX_SEQ_LEN - stride  # each window starts `step` bytes after the previous one
    starts = range(0, len(TEXT) - stride, step)
    assert len(rows) == len(starts) == 4
    for row, start in zip(rows, starts):
        window = TEXT[start : start + MAX_SEQ_LEN]
        assert row[: len(window)] == [byte + 6 for byte in window.encode("ascii")] and len(row) <= MAX_SEQ_LEN
    assert max(entity["end"] for entity in entities) == len(TEXT)  # without stride: 128
    assert all(entity["word"] == TEXT[entity["start"] : entity["end"]] for entity in entities)


def test_text_classification_truncates_to_the_model_and_says_how_much_it_dropped(tmp_path, caplog):
    folder = save_classifier_folder(PerceiverForSequenceClassification, tmp_path / "sequence", max_seq_len=MAX_SEQ_LEN)
    pipe = pipeline("text-classification", model=str(folder))
    rows = recorded_inputs(pipe)
    with caplog.at_level(logging.WARNING, logger="perceiver_hf.tokenization_perceiver"):
        (result,) = pipe([TEXT], truncation=True)
    assert result["label"] in {"LABEL_0", "LABEL_1", "LABEL_2"}
    assert rows == [[byte + 6 for byte in TEXT[:MAX_SEQ_LEN].encode("ascii")]]
    messages = [record.getMessage() for record in caplog.records if record.levelno == logging.WARNING]
    assert any("model_max_length=128" in m and "longest had 384 tokens" in m and "256 tokens" in m for m in messages)


def test_fill_mask_with_truncation_fits_the_model(tmp_path):
    folder = save_model_folder(make_tiny_model(seed=0), tmp_path / "mlm")
    pipe = pipeline("fill-mask", model=str(folder))
    rows = recorded_inputs(pipe)
    predictions = pipe("[MASK]" + TEXT, tokenizer_kwargs={"truncation": True}, top_k=2)
    assert len(predictions) == 2 and rows and all(len(row) == MAX_SEQ_LEN for row in rows)
    with pytest.raises(ValueError, match="max_seq_len=128"):
        with torch.no_grad():
            pipe.model(torch.tensor([[7] * (MAX_SEQ_LEN + 1)]))  # the limit the tokenizer keeps to is real
