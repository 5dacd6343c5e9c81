"""`compute_metrics` of the classification tasks: accuracy and macro-F1; for BIO token labels, entity F1 as seqeval.

Plain numpy, no scikit-learn/seqeval dependency. Token predictions at label -100 (padding, spaces between words)
are not scored.
"""

from __future__ import annotations

from typing import Callable, Sequence

import numpy as np
from transformers import EvalPrediction

IGNORED = -100


def accuracy_and_macro_f1(predictions: np.ndarray, labels: np.ndarray, num_labels: int) -> dict[str, float]:
    """Accuracy and the unweighted mean over classes of F1 (classes absent from both count as F1 = 0 only when
    they occur in either: a class neither predicted nor present is left out, as scikit-learn's labels=present)."""
    accuracy = float((predictions == labels).mean()) if labels.size else 0.0
    scores = []
    for label in range(num_labels):
        predicted, actual = predictions == label, labels == label
        if not predicted.any() and not actual.any():
            continue
        true_positive = float((predicted & actual).sum())
        scores.append(2 * true_positive / (predicted.sum() + actual.sum()))
    return {"accuracy": accuracy, "f1": float(np.mean(scores)) if scores else 0.0}


def entities(tags: Sequence[str]) -> set[tuple[str, int, int]]:
    """(type, start, end) spans of BIO `tags` (seqeval's default IOB2 reading: an I- after O or another type
    starts an entity)."""
    spans, start, kind = set(), None, None
    for index, tag in enumerate([*tags, "O"]):
        prefix, _, name = tag.partition("-")
        continues = prefix == "I" and kind == name
        if start is not None and not continues:
            spans.add((kind, start, index))
            start, kind = None, None
        if prefix in ("B", "I") and not continues:
            start, kind = index, name
    return spans


def is_bio(names: Sequence[str]) -> bool:
    """Whether label names are a BIO scheme (O plus B-X / I-X)."""
    return all(name == "O" or name[:2] in ("B-", "I-") for name in names) and any(n != "O" for n in names)


def entity_f1(sequences_predicted: list[list[str]], sequences_actual: list[list[str]]) -> dict[str, float]:
    """Micro precision, recall and F1 over entities (seqeval's default)."""
    found = correct = expected = 0
    for predicted, actual in zip(sequences_predicted, sequences_actual):
        predicted_spans, actual_spans = entities(predicted), entities(actual)
        found += len(predicted_spans)
        expected += len(actual_spans)
        correct += len(predicted_spans & actual_spans)
    precision = correct / found if found else 0.0
    recall = correct / expected if expected else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": precision, "recall": recall, "f1": f1}


def classification_metrics(task: str, names: Sequence[str]) -> Callable[[EvalPrediction], dict[str, float]]:
    """`compute_metrics` for `task` ("text-classification" / "token-classification") with label `names`."""

    def compute(prediction: EvalPrediction) -> dict[str, float]:
        logits = prediction.predictions[0] if isinstance(prediction.predictions, tuple) else prediction.predictions
        predicted, labels = np.asarray(logits).argmax(-1), np.asarray(prediction.label_ids)
        if task == "text-classification":
            return accuracy_and_macro_f1(predicted, labels, len(names))
        scored = labels != IGNORED
        metrics = accuracy_and_macro_f1(predicted[scored], labels[scored], len(names))
        if not is_bio(names):
            return metrics
        rows = [
            ([names[p] for p in row_predicted[keep]], [names[a] for a in row_labels[keep]])
            for row_predicted, row_labels, keep in zip(predicted, labels, scored)
        ]
        entity = entity_f1([p for p, _ in rows], [a for _, a in rows])
        return {"accuracy": metrics["accuracy"], "token_f1": metrics["f1"], **entity}

    return compute


__all__ = ["accuracy_and_macro_f1", "classification_metrics", "entities", "entity_f1", "is_bio"]
