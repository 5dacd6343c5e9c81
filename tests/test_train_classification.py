"""`perceiver-hf train --task text-classification|token-classification`: runs, metrics, card, bad input.

The metrics are checked against values worked out by hand (accuracy, macro-F1, seqeval-style entity F1).
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np
import pytest
from datasets import Dataset
from huggingface_hub import ModelCard
from transformers import pipeline

from perceiver_hf.training.classification_metrics import accuracy_and_macro_f1, entities, entity_f1
from perceiver_hf.training.run import run_from_argv

CODE = ["x = len(a)", "for i in range(3): pass", "def f(y): return y", "print(x + 1)", "import os", "a[i] = b[j]"]
PROSE = ["The cat sat.", "It rained all day.", "We went home early.", "Birds sing at dawn.", "A quiet lake.", "Hi."]


def _jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    return path


def _args(tmp_path: Path, task: str, train: Path, *extra: str) -> list[str]:
    return [
        "--task", task, "--preset", "tiny", "--train_file", str(train), "--output_dir", str(tmp_path / "out"),
        "--max_steps", "4", "--per_device_train_batch_size", "4", "--learning_rate", "1e-3", "--disable_tqdm", "true",
        "--cache_dir", str(tmp_path / "cache"), "--report_to", "none", *extra,
    ]  # fmt: skip


@pytest.fixture
def sequence_data(tmp_path: Path) -> tuple[Path, Path]:
    rows = [{"text": t, "label": "code"} for t in CODE] + [{"text": t, "label": "prose"} for t in PROSE]
    validation = [{"text": "y = g(x)", "label": "code"}, {"text": "A dog ran.", "label": "prose"}]
    return _jsonl(tmp_path / "train.jsonl", rows), _jsonl(tmp_path / "validation.jsonl", validation)


def test_text_classification_run(tmp_path: Path, sequence_data: tuple[Path, Path]) -> None:
    train, validation = sequence_data
    metrics = run_from_argv(_args(tmp_path, "text-classification", train, "--validation_file", str(validation)))
    assert {"eval_accuracy", "eval_f1", "eval_loss"} <= set(metrics)
    out = tmp_path / "out"
    card = ModelCard.load(out / "README.md")
    assert card.data.pipeline_tag == "text-classification"
    evaluation = card.text.split("## Evaluation")[1].split("\n## ")[0]
    assert "`code`, `prose`" in str(card) and f"| accuracy | {metrics['eval_accuracy']:.4f} |" in evaluation
    config = json.loads((out / "config.json").read_text())
    assert config["architectures"] == ["PerceiverForSequenceClassification"]
    assert config["id2label"] == {"0": "code", "1": "prose"}
    predictions = pipeline("text-classification", model=str(out))(["z = 1", "Good night."])
    assert {p["label"] for p in predictions} <= {"code", "prose"}


def test_token_classification_run_with_bio_labels(tmp_path: Path) -> None:
    rows = [
        {"tokens": ["call", "len(x)", "now"], "tags": ["O", "B-CODE", "O"]},
        {"tokens": ["use", "os.path", "here"], "tags": ["O", "B-CODE", "O"]},
    ] * 4
    train = _jsonl(tmp_path / "train.jsonl", rows)
    metrics = run_from_argv(_args(
        tmp_path, "token-classification", train, "--text_column", "tokens", "--label_column", "tags",
        "--validation_split_percentage", "25",
    ))  # fmt: skip
    assert {"eval_accuracy", "eval_token_f1", "eval_precision", "eval_recall", "eval_f1"} <= set(metrics)
    config = json.loads((tmp_path / "out" / "config.json").read_text())
    assert sorted(config["label2id"]) == ["B-CODE", "I-CODE", "O"]  # I-CODE added for a word's later bytes


@pytest.mark.parametrize(
    "rows, extra, message",
    [
        ([{"text": "a", "y": "p"}], (), "no label column 'label'"),
        ([{"text": "a", "label": 2}, {"text": "b", "label": 0}], ("--label_list", "neg,pos"),
         r"label id 2, outside \[0, 2\)"),
        ([{"text": "a", "label": "maybe"}], ("--label_list", "neg,pos"), "label 'maybe', which is not one of"),
        # issue 26 item 2: these trained a constant regression, made a class 'None', or allocated 6 GB
        ([{"text": "a", "label": "pos"}], (), r"only one label \('pos'\) in the training data"),
        ([{"text": "a", "label": "pos"}], ("--label_list", "pos"), r"only one label \('pos'\) in --label_list"),
        ([{"text": "a", "label": "pos"}, {"text": "b", "label": None}, {"text": "c", "label": "neg"}], (),
         "no label in row 2"),
        ([{"text": "a", "label": "pos"}, {"text": "b", "label": " "}, {"text": "c", "label": "neg"}], (),
         "no label in row 2"),
        ([{"text": "a", "label": 1}, {"text": "b", "label": "pos"}], (), r"mixes label ids \(e.g. 1\) and label names"),
        ([{"text": "a", "label": 0}, {"text": "b", "label": 999999999}], (),
         "label id 999999999 but only 2 distinct ids"),
        ([{"text": "a", "label": 0.5}, {"text": "b", "label": 1.0}], (), "label 0.5 in row 1, which is not a class"),
    ],
)
def test_bad_labels_are_one_line(tmp_path: Path, rows, extra, message) -> None:
    train = _jsonl(tmp_path / "train.jsonl", rows * 4)
    with pytest.raises(ValueError, match=message):
        run_from_argv(_args(tmp_path, "text-classification", train, "--validation_split_percentage", "0", *extra))


def test_an_evaluation_label_training_never_saw(tmp_path: Path, sequence_data: tuple[Path, Path]) -> None:
    train, _ = sequence_data
    validation = _jsonl(tmp_path / "v.jsonl", [{"text": "?", "label": "poetry"}])
    with pytest.raises(ValueError, match=r"validation data has label\(s\) \['poetry'\] that the training data never"):
        run_from_argv(_args(tmp_path, "text-classification", train, "--validation_file", str(validation)))


def test_an_empty_dataset_and_long_texts(tmp_path: Path, sequence_data: tuple[Path, Path], caplog) -> None:
    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    with pytest.raises(ValueError, match="is empty"):
        run_from_argv(_args(tmp_path, "text-classification", empty))
    train = _jsonl(tmp_path / "long.jsonl", [{"text": "word " * 40, "label": "a"}, {"text": "b", "label": "b"}] * 3)
    with caplog.at_level(logging.WARNING, logger="perceiver_hf.training.classification_data"):
        run_from_argv(_args(
            tmp_path, "text-classification", train, "--validation_split_percentage", "0", "--max_seq_len", "32",
            "--max_steps", "1",
        ))  # fmt: skip
    assert "3 of 6 train texts are longer than max_seq_len=32 tokens and were truncated" in caplog.text


def test_accuracy_and_macro_f1_by_hand() -> None:
    predicted, actual = np.array([0, 0, 1, 2, 2, 2]), np.array([0, 1, 1, 2, 2, 0])
    metrics = accuracy_and_macro_f1(predicted, actual, num_labels=4)  # class 3: absent from both, left out
    # F1 per class: 0: tp 1, pred 2, actual 2 -> 0.5; 1: tp 1, pred 1, actual 2 -> 2/3; 2: tp 2, pred 3, actual 2 -> 0.8
    assert metrics["accuracy"] == pytest.approx(4 / 6)
    assert metrics["f1"] == pytest.approx((0.5 + 2 / 3 + 0.8) / 3)


def test_entity_f1_like_seqeval() -> None:
    assert entities(["B-A", "I-A", "O", "I-B", "B-A", "B-A"]) == {("A", 0, 2), ("B", 3, 4), ("A", 4, 5), ("A", 5, 6)}
    actual = [["B-A", "I-A", "O", "B-B"]]
    predicted = [["B-A", "I-A", "O", "O"]]
    # one of one predicted entities right, one of two found: precision 1, recall 0.5, F1 2/3 (seqeval's numbers)
    assert entity_f1(predicted, actual) == pytest.approx({"precision": 1.0, "recall": 0.5, "f1": 2 / 3})


def test_early_stopping_on_the_eval_metric(tmp_path: Path, sequence_data: tuple[Path, Path]) -> None:
    train, validation = sequence_data
    common = ("--validation_file", str(validation), "--early_stopping_patience", "1", "--max_steps", "20")
    with pytest.raises(ValueError, match="--early_stopping_patience needs periodic evaluation"):
        run_from_argv(_args(tmp_path, "text-classification", train, *common))
    # learning rate 0: the metric never improves, so training stops after the second evaluation
    run_from_argv(_args(
        tmp_path, "text-classification", train, *common, "--learning_rate", "0", "--eval_strategy", "steps",
        "--eval_steps", "1", "--save_strategy", "steps", "--save_steps", "1", "--force",
    ))  # fmt: skip
    state = json.loads((tmp_path / "out" / "trainer_state.json").read_text())
    assert state["global_step"] == 2


def test_fine_tune_the_shipped_model_with_a_shaped_head(tmp_path: Path, sequence_data: tuple[Path, Path]) -> None:
    from perceiver_hf import pretrained_model_path

    train, validation = sequence_data
    argv = _args(tmp_path, "text-classification", train, "--validation_file", str(validation))
    argv[argv.index("--preset"): argv.index("--preset") + 2] = ["--model_name_or_path", str(pretrained_model_path())]
    run_from_argv([*argv, "--classifier_num_queries", "2", "--classifier_num_cross_attention_heads", "2"])
    config = json.loads((tmp_path / "out" / "config.json").read_text())
    assert (config["classifier_num_queries"], config["classifier_num_cross_attention_heads"]) == (2, 2)
    card = (tmp_path / "out" / "README.md").read_text()
    assert "fine-tuned from" in card and "from 2 learned queries" in card


def test_csv_with_integer_labels_and_a_label_list(tmp_path: Path) -> None:
    lines = ["sentence,y"] + [f'"{text}",0' for text in CODE] + [f'"{text}",1' for text in PROSE]
    (tmp_path / "train.csv").write_text("\n".join(lines) + "\n")
    run_from_argv(_args(
        tmp_path, "text-classification", tmp_path / "train.csv", "--text_column", "sentence", "--label_column", "y",
        "--label_list", "code,prose", "--validation_split_percentage", "25",
    ))  # fmt: skip
    config = json.loads((tmp_path / "out" / "config.json").read_text())
    assert config["id2label"] == {"0": "code", "1": "prose"}


def test_integer_labels_read_as_floats_are_ids(tmp_path: Path) -> None:
    rows = [{"text": t, "label": 0.0} for t in CODE] + [{"text": t, "label": 1.0} for t in PROSE]
    train = _jsonl(tmp_path / "train.jsonl", rows)
    run_from_argv(_args(tmp_path, "text-classification", train, "--validation_split_percentage", "0"))
    config = json.loads((tmp_path / "out" / "config.json").read_text())
    assert config["id2label"] == {"0": "0", "1": "1"}  # not '0.0' / '1.0'


def test_token_classification_with_one_label_per_byte_of_a_string(tmp_path: Path) -> None:
    from perceiver_hf import PerceiverByteTokenizer
    from perceiver_hf.training.classification_data import encode_split

    text = "call é(x)"  # "é" is two UTF-8 bytes: two tokens, two labels
    tags = ["O"] * 5 + ["B-CODE"] + ["I-CODE"] * 4
    rows = [{"text": text, "tags": tags}, {"text": "use os", "tags": ["O"] * 4 + ["B-CODE", "I-CODE"]}] * 4
    names = ["B-CODE", "I-CODE", "O"]
    encoded = encode_split(
        Dataset.from_list(rows), "train", PerceiverByteTokenizer(), "text", "tags", names, "token-classification", 8
    )
    assert encoded[0]["labels"] == [2, 2, 2, 2, 2, 0, 1, 1]  # the first 8 bytes' tags, unchanged: no -100 gaps
    assert len(encoded[1]["labels"]) == len(encoded[1]["input_ids"]) == 6
    train = _jsonl(tmp_path / "train.jsonl", rows)
    metrics = run_from_argv(_args(
        tmp_path, "token-classification", train, "--label_column", "tags", "--validation_split_percentage", "25",
    ))  # fmt: skip
    assert {"eval_accuracy", "eval_f1"} <= set(metrics)
    bad = _jsonl(tmp_path / "bad.jsonl", [{"text": text, "tags": tags[:-1]}] * 4)
    with pytest.raises(ValueError, match="text is 10 tokens but has 9 labels; with a string text column give one"):
        run_from_argv(_args(
            tmp_path, "token-classification", bad, "--label_column", "tags", "--validation_split_percentage", "0",
            "--force",
        ))  # fmt: skip
