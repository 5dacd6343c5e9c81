"""Evaluation metrics for masked and causal language modelling that never keep full-vocabulary logits around.

`Trainer` normally gathers the model's logits [B, K, V] for the whole evaluation set before calling
`compute_metrics`. `preprocess_logits_for_metrics` reduces every batch right away to two numbers per scored
token (the argmax prediction and the token's cross-entropy), so memory grows with the number of masked tokens,
not with V times that.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from transformers import EvalPrediction


def preprocess_logits_for_metrics(logits: Any, labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Reduce logits [B, K, V] and labels [B, K] to (predictions [B, K] long, token losses [B, K] float32).

    Token losses are 0 where the label is -100. Pass this function to `Trainer(preprocess_logits_for_metrics=...)`.
    """
    if isinstance(logits, (tuple, list)):  # models returning extra outputs: logits come first
        logits = logits[0]
    predictions = logits.argmax(dim=-1)  # [B, K]
    token_losses = F.cross_entropy(
        logits.float().transpose(1, 2), labels.to(logits.device), ignore_index=-100, reduction="none"
    )  # [B, K]
    return predictions, token_losses


def compute_metrics(eval_prediction: EvalPrediction) -> dict[str, float]:
    """Masked-token accuracy, mean token cross-entropy ("nll") and perplexity over all scored tokens.

    Expects `eval_prediction.predictions` = (predictions, token losses) from `preprocess_logits_for_metrics`
    and `label_ids` with -100 at unscored positions (Trainer pads across batches with -100).
    """
    predictions, token_losses = eval_prediction.predictions
    labels = np.asarray(eval_prediction.label_ids)
    scored = labels != -100
    num_scored = int(scored.sum())
    if num_scored == 0:
        return {"accuracy": float("nan"), "nll": float("nan"), "perplexity": float("nan"), "masked_tokens": 0}
    nll = float(np.asarray(token_losses, dtype=np.float64)[scored].mean())
    return {
        "accuracy": float((np.asarray(predictions)[scored] == labels[scored]).mean()),
        "nll": nll,
        "perplexity": math.exp(min(nll, 700.0)),
        "masked_tokens": num_scored,
    }


def preprocess_causal_logits_for_metrics(
    logits: Any, labels: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """A causal LM's next-token predictions: logits [B, N, V] at the last N positions of labels [B, X] (the
    input ids, -100 where unscored) -> (predictions, token losses, targets), each [B, N - 1]: latent i is scored
    on the token after it, the last latent has none (`PerceiverForCausalLM`'s loss, token by token)."""
    if isinstance(logits, (tuple, list)):
        logits = logits[0]
    targets = labels[:, labels.shape[1] - logits.shape[1] + 1 :]  # [B, N - 1]
    predictions, token_losses = preprocess_logits_for_metrics(logits[:, :-1], targets)
    return predictions, token_losses, targets


def compute_causal_lm_metrics(eval_prediction: EvalPrediction) -> dict[str, float]:
    """Next-token accuracy, mean cross-entropy ("nll"), perplexity = exp(nll) over every predicted token, and their
    count, from `preprocess_causal_logits_for_metrics`' triples."""
    predictions, token_losses, targets = eval_prediction.predictions
    metrics = compute_metrics(EvalPrediction(predictions=(predictions, token_losses), label_ids=targets))
    metrics["predicted_tokens"] = metrics.pop("masked_tokens")
    return metrics


__all__ = [
    "compute_causal_lm_metrics",
    "compute_metrics",
    "preprocess_causal_logits_for_metrics",
    "preprocess_logits_for_metrics",
]
