"""Baselines of the Python docs tasks (scripts/tasks/prepare_python_docs_task.py) on their held-out pages.

Sequence task (which part of the docs a paragraph is from): the majority class of the training split, and a
bag-of-bytes logistic regression (log(1 + count) of each of the 256 byte values, divided by the paragraph's
length in bytes; multinomial, L2, full-batch L-BFGS in torch, so no scikit-learn is needed).
Token task (which bytes are inline code): "all O" (the majority tag), and a logistic regression on the bytes
in a window of +-`WINDOW` around each byte (a weight vector per offset and byte value).

Reported: accuracy and macro-F1 (sequence); byte accuracy, code-byte F1 and entity F1 (exact `B-CODE` spans,
seqeval-style) for the token task. Deterministic (seed 0, full-batch optimisation).

    python benchmarks/python_docs_baselines.py outputs/python-docs-task
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Dict, List, Sequence, Set, Tuple

import torch

WINDOW = 3
PAD_BYTE = 256  # the window's id for positions outside the paragraph
L2 = 1e-4


def read_jsonl(path: Path) -> List[dict]:
    with path.open(encoding="utf-8") as handle:
        return [json.loads(line) for line in handle]


def bag_of_bytes(texts: Sequence[str]) -> torch.Tensor:
    """[N, 256] float: log(1 + count of each byte value) / length in bytes."""
    features = torch.zeros(len(texts), 256)
    for row, text in enumerate(texts):
        data = torch.tensor(list(text.encode("utf-8")), dtype=torch.long)
        features[row] = torch.bincount(data, minlength=256).float().log1p() / max(1, len(data))
    return features


def fit_logistic(features: torch.Tensor, targets: torch.Tensor, num_classes: int, steps: int = 200) -> torch.nn.Linear:
    """Multinomial logistic regression (standardised inputs, L2 on the weights), full-batch L-BFGS."""
    torch.manual_seed(0)
    mean, std = features.mean(0), features.std(0).clamp(min=1e-6)
    model = torch.nn.Sequential(Standardise(mean, std), torch.nn.Linear(features.shape[1], num_classes))
    optimiser = torch.optim.LBFGS(model.parameters(), lr=1.0, max_iter=steps, line_search_fn="strong_wolfe")

    def closure() -> torch.Tensor:
        optimiser.zero_grad()
        loss = torch.nn.functional.cross_entropy(model(features), targets) + L2 * model[1].weight.pow(2).sum()
        loss.backward()
        return loss

    optimiser.step(closure)
    return model


class Standardise(torch.nn.Module):
    """(x - mean) / std with fixed statistics of the training features."""

    def __init__(self, mean: torch.Tensor, std: torch.Tensor) -> None:
        super().__init__()
        self.register_buffer("mean", mean)
        self.register_buffer("std", std)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return (features - self.mean) / self.std


def accuracy_and_macro_f1(predicted: torch.Tensor, targets: torch.Tensor, num_classes: int) -> Dict[str, float]:
    """Accuracy and the unweighted mean of the per-class F1 (a class never predicted nor present is skipped)."""
    scores = []
    for label in range(num_classes):
        tp = ((predicted == label) & (targets == label)).sum().item()
        fp = ((predicted == label) & (targets != label)).sum().item()
        fn = ((predicted != label) & (targets == label)).sum().item()
        if tp + fp + fn:
            scores.append(2 * tp / (2 * tp + fp + fn))
    return {"accuracy": (predicted == targets).float().mean().item(), "macro_f1": sum(scores) / len(scores)}


def sequence_baselines(train: List[dict], heldout: List[dict]) -> Dict[str, Dict[str, float]]:
    """Majority class and bag-of-bytes logistic regression, scored on `heldout`."""
    labels = sorted({row["label"] for row in train})
    index = {label: i for i, label in enumerate(labels)}
    y_train = torch.tensor([index[row["label"]] for row in train])
    y_heldout = torch.tensor([index[row["label"]] for row in heldout])
    majority = torch.full_like(y_heldout, int(torch.bincount(y_train).argmax()))
    model = fit_logistic(bag_of_bytes([row["text"] for row in train]), y_train, len(labels))
    with torch.no_grad():
        predicted = model(bag_of_bytes([row["text"] for row in heldout])).argmax(-1)
    return {
        "majority class": accuracy_and_macro_f1(majority, y_heldout, len(labels)),
        "bag-of-bytes logistic regression": accuracy_and_macro_f1(predicted, y_heldout, len(labels)),
    }


TAG_IDS = {"O": 0, "B-CODE": 1, "I-CODE": 2}


def windows(rows: List[dict]) -> Tuple[torch.Tensor, torch.Tensor]:
    """[T, 2 * WINDOW + 1] byte ids around every byte of every paragraph, and [T] tag ids."""
    contexts, tags = [], []
    for row in rows:
        data = torch.tensor(list(row["text"].encode("utf-8")), dtype=torch.long)
        padded = torch.nn.functional.pad(data, (WINDOW, WINDOW), value=PAD_BYTE)
        contexts.append(padded.unfold(0, 2 * WINDOW + 1, 1))  # [L, 2W+1]
        tags.append(torch.tensor([TAG_IDS[tag] for tag in row["labels"]]))
    return torch.cat(contexts), torch.cat(tags)


class WindowLogistic(torch.nn.Module):
    """Logistic regression on one-hot bytes at each window offset: logits = b + sum_j W_j[byte at offset j]."""

    def __init__(self) -> None:
        super().__init__()
        self.weights = torch.nn.Parameter(torch.zeros(2 * WINDOW + 1, PAD_BYTE + 1, len(TAG_IDS)))
        self.bias = torch.nn.Parameter(torch.zeros(len(TAG_IDS)))
        self.register_buffer("offsets", torch.arange(2 * WINDOW + 1))

    def forward(self, contexts: torch.Tensor) -> torch.Tensor:  # [T, 2W+1] -> [T, 3]
        return self.weights[self.offsets, contexts].sum(1) + self.bias


def fit_window_logistic(contexts: torch.Tensor, tags: torch.Tensor, steps: int = 60) -> WindowLogistic:
    torch.manual_seed(0)
    model = WindowLogistic()
    optimiser = torch.optim.LBFGS(model.parameters(), lr=1.0, max_iter=steps, line_search_fn="strong_wolfe")

    def closure() -> torch.Tensor:
        optimiser.zero_grad()
        loss = torch.nn.functional.cross_entropy(model(contexts), tags) + L2 * model.weights.pow(2).sum()
        loss.backward()
        return loss

    optimiser.step(closure)
    return model


def spans(tags: Sequence[int]) -> Set[Tuple[int, int]]:
    """(start, end) of each entity: B-CODE then I-CODE*, or (seqeval's lenient reading) I-CODE* after O."""
    found, start = set(), None
    for position, tag in enumerate([*tags, TAG_IDS["O"]]):
        if start is not None and tag != TAG_IDS["I-CODE"]:
            found.add((start, position))
            start = None
        if tag == TAG_IDS["B-CODE"] or (tag == TAG_IDS["I-CODE"] and start is None):
            start = position
    return found


def token_scores(predicted: torch.Tensor, tags: torch.Tensor) -> Dict[str, float]:
    """Byte accuracy, F1 of code bytes (B or I) and entity F1 over all bytes of a split (concatenated)."""
    code_p, code_t = predicted != 0, tags != 0
    tp = (code_p & code_t).sum().item()
    code_f1 = 2 * tp / max(1, code_p.sum().item() + code_t.sum().item())
    predicted_spans, true_spans = spans(predicted.tolist()), spans(tags.tolist())
    hits = len(predicted_spans & true_spans)
    entity_f1 = 2 * hits / max(1, len(predicted_spans) + len(true_spans))
    return {"byte_accuracy": (predicted == tags).float().mean().item(), "code_byte_f1": code_f1, "entity_f1": entity_f1}


def token_baselines(train: List[dict], heldout: List[dict]) -> Dict[str, Dict[str, float]]:
    """"All O" and the +-WINDOW byte logistic regression, scored on `heldout`."""
    train_contexts, train_tags = windows(train)
    heldout_contexts, heldout_tags = windows(heldout)
    model = fit_window_logistic(train_contexts, train_tags)
    with torch.no_grad():
        predicted = model(heldout_contexts).argmax(-1)
    return {
        "all O (majority tag)": token_scores(torch.zeros_like(heldout_tags), heldout_tags),
        f"byte-window (+-{WINDOW}) logistic regression": token_scores(predicted, heldout_tags),
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("data_dir", type=Path, help="--output-dir (or --sample-dir) of prepare_python_docs_task.py")
    args = parser.parse_args(argv)
    torch.set_num_threads(min(2, torch.get_num_threads()))
    splits = {
        task: [read_jsonl(args.data_dir / task / f"{split}.jsonl") for split in ("train", "heldout")]
        for task in ("sequence", "token")
    }
    results = {"sequence": sequence_baselines(*splits["sequence"]), "token": token_baselines(*splits["token"])}
    print(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
