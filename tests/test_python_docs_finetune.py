"""A short fine-tune of the shipped model on the committed Python docs sample beats the majority tag (measured margin).

`perceiver-hf train --task token-classification` from `perceiver-bytes-small` on tests/data/python_docs_task/token
(120 paragraphs, one BIO tag per UTF-8 byte: which bytes are inline code), 32 steps of batch 16, AdamW lr 1e-3,
the first 64 bytes, one thread; scored by the run's own evaluation on the 60 held-out paragraphs (other pages).
The majority tag ("all O") scores 86.6% byte accuracy there and a token macro-F1 of 0.309 (F1 of O, 0.928, over
three tags). Measured on this machine (2 shared cores, while a long benchmark ran too), seeds 0-9, 23-47 s a run:

    byte accuracy  0.897 0.891 0.897 0.897 0.893 0.886 0.899 0.882 0.899 0.898   (+1.6 to +3.3 points over all O)
    token macro-F1 0.472 0.484 0.488 0.493 0.454 0.425 0.483 0.416 0.483 0.481   (+0.106 to +0.183)

The test (seed 0) asks for +1.0 point and +0.05, which the worst seed clears by 0.6 points and 0.056; it takes
17 s at a load of 3, 56 s at the busiest seen. A model that learned nothing (predicting O everywhere) scores
exactly the majority figures and fails both. From scratch a few dozen steps stay on the all-O plateau (the probe
in docs/python-docs-task.md; even 500 steps on the full data barely leave it): this is the pretrained encoder
at work.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from perceiver_hf.pretrained import pretrained_model_path
from perceiver_hf.training.run import run_from_argv

SAMPLE = Path(__file__).resolve().parent / "data" / "python_docs_task" / "token"
MAX_LEN = 64
ACCURACY_MARGIN = 0.010
MACRO_F1_MARGIN = 0.05


def majority_scores(path: Path) -> tuple[float, float]:
    """Byte accuracy and 3-tag macro-F1 of predicting O for each of the first MAX_LEN bytes, worked out by hand."""
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    tags = [tag for row in rows for tag in row["labels"][:MAX_LEN]]
    share_o = tags.count("O") / len(tags)
    f1_o = 2 * share_o / (1 + share_o)  # precision share_o, recall 1; B-/I-CODE: F1 0 (present, never predicted)
    return share_o, f1_o / 3


@pytest.fixture
def one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # two threads on a busy 2-core machine spin: several times slower
    yield
    torch.set_num_threads(threads)


def test_short_fine_tune_from_the_shipped_model_beats_all_o(tmp_path: Path, one_thread) -> None:
    all_o_accuracy, all_o_f1 = majority_scores(SAMPLE / "heldout.jsonl")
    assert all_o_accuracy == pytest.approx(0.866, abs=5e-4)  # the figure the margins were measured against
    metrics = run_from_argv([
        "--task", "token-classification", "--model_name_or_path", str(pretrained_model_path()),
        "--train_file", str(SAMPLE / "train.jsonl"), "--validation_file", str(SAMPLE / "heldout.jsonl"),
        "--label_column", "labels", "--max_seq_len", str(MAX_LEN), "--max_steps", "32",
        "--per_device_train_batch_size", "16", "--learning_rate", "1e-3", "--seed", "0", "--save_strategy", "no",
        "--logging_steps", "1000", "--report_to", "none", "--disable_tqdm", "true",
        "--output_dir", str(tmp_path / "out"), "--cache_dir", str(tmp_path / "cache"),
    ])  # fmt: skip
    assert metrics["eval_accuracy"] >= all_o_accuracy + ACCURACY_MARGIN, metrics
    assert metrics["eval_token_f1"] >= all_o_f1 + MACRO_F1_MARGIN, metrics
