"""`perceiver-hf classify` (issue 26 item 5): labels of texts from a sequence classifier, labelled spans from a
token classifier (a text 3x the model's length read in windows), JSON output, and folders of the wrong kind named
with the command to use instead (`fill` on a classifier, `classify` on a masked LM). References: the model's own
forward (softmax of its logits; per-token argmax grouped into runs)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from conftest import make_tiny_config, randomize_

from perceiver_hf import PerceiverByteTokenizer, PerceiverForSequenceClassification, PerceiverForTokenClassification
from perceiver_hf.cli import main
from perceiver_hf.pretrained import DEFAULT_MODEL

LABELS = {0: "neg", 1: "neu", 2: "pos"}


def save_classifier(folder: Path, head: type, seed: int) -> torch.nn.Module:
    config = make_tiny_config(num_labels=3, id2label=LABELS, label2id={v: k for k, v in LABELS.items()})
    model = randomize_(head(config), seed=seed).eval()
    model.save_pretrained(folder)
    PerceiverByteTokenizer(model_max_length=config.max_seq_len).save_pretrained(folder)
    return model


@pytest.fixture(scope="module")
def sequence_folder(tmp_path_factory) -> tuple[Path, torch.nn.Module]:
    folder = tmp_path_factory.mktemp("cls") / "sequence"
    return folder, save_classifier(folder, PerceiverForSequenceClassification, seed=1)


@pytest.fixture(scope="module")
def token_folder(tmp_path_factory) -> tuple[Path, torch.nn.Module]:
    folder = tmp_path_factory.mktemp("cls") / "token"
    return folder, save_classifier(folder, PerceiverForTokenClassification, seed=2)


def ids_of(text: str) -> torch.Tensor:
    return torch.tensor([[b + 6 for b in text.encode("utf-8")]])  # the byte tokenizer: byte + 6, no specials


def test_sequence_labels_are_the_models_top_k(sequence_folder, capsys) -> None:
    folder, model = sequence_folder
    texts = ["The cat sat on the mat.", "x = f(y)"]
    assert main(["classify", str(folder), *texts, "--top-k", "2", "--json"]) == 0
    results = json.loads(capsys.readouterr().out)
    for text, rows in zip(texts, results):
        with torch.no_grad():
            probabilities = model(ids_of(text)).logits.softmax(-1)[0]  # [3]
        best = probabilities.topk(2)
        assert [row["label"] for row in rows] == [LABELS[int(i)] for i in best.indices]
        assert [row["score"] for row in rows] == pytest.approx(best.values.tolist(), abs=1e-5)


def test_token_spans_are_runs_of_the_models_labels(token_folder, capsys) -> None:
    folder, model = token_folder
    text = "Ada wrote notes in London"
    assert main(["classify", str(folder), text, "--json"]) == 0
    (rows,) = json.loads(capsys.readouterr().out)
    with torch.no_grad():
        labels = model(ids_of(text)).logits.argmax(-1)[0].tolist()  # one per byte (ASCII: per character)
    runs, start = [], 0
    for index in range(1, len(labels) + 1):
        if index == len(labels) or labels[index] != labels[start]:
            runs.append((start, index, LABELS[labels[start]]))
            start = index
    got = [(row["start"], row["end"], row["entity_group"]) for row in rows]
    covered = "".join(text[s:e] for s, e, _ in got)
    assert covered.replace(" ", "") == text.replace(" ", "")  # every non-space character is in a span
    assert {label for _, _, label in got} == {label for _, _, label in runs}


def test_a_text_three_times_the_model_is_read_to_its_end(token_folder, capsys) -> None:
    folder, model = token_folder
    text = "abcdefgh " * (3 * model.config.max_seq_len // 9 + 1)  # > 3 x max_seq_len bytes
    assert main(["classify", str(folder), text, "--json", "--stride", "16"]) == 0
    (rows,) = json.loads(capsys.readouterr().out)
    assert max(row["end"] for row in rows) >= len(text.rstrip())


def test_plain_output_names_label_and_score(sequence_folder, capsys) -> None:
    folder, _ = sequence_folder
    assert main(["classify", str(folder), "hello"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "hello" and lines[1].strip().split(" ")[0] in LABELS.values() and len(lines) == 2


def one_line_error(capsys, argv: list[str]) -> str:
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1, err
    return err


def test_folders_of_the_wrong_kind_name_the_command_to_use(sequence_folder, capsys) -> None:
    folder, _ = sequence_folder
    err = one_line_error(capsys, ["classify", DEFAULT_MODEL, "a text"])
    assert "holds a PerceiverForMaskedLM, not a classifier" in err and "perceiver-hf fill" in err
    err = one_line_error(capsys, ["fill", str(folder), "a [MASK]"])
    assert "holds a PerceiverForSequenceClassification" in err and f"perceiver-hf classify {folder}" in err


@pytest.mark.parametrize("flags, message", [(["--top-k", "0"], "--top-k must be at least 1"),
                                            (["--stride", "-1"], "--stride must be 0 or more")])
def test_bad_options_are_one_line(sequence_folder, capsys, flags, message) -> None:
    folder, _ = sequence_folder
    assert message in one_line_error(capsys, ["classify", str(folder), "a text", *flags])
