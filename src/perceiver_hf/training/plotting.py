"""Loss-curve PNG from `Trainer`'s log history (matplotlib, headless Agg backend)."""

from __future__ import annotations

import os
from typing import Any, Sequence


def loss_points(log_history: Sequence[dict[str, Any]], key: str) -> tuple[list[int], list[float]]:
    """(steps, values) of every log entry that has `key` (e.g. "loss" or "eval_loss")."""
    entries = [entry for entry in log_history if key in entry and "step" in entry]
    return [int(e["step"]) for e in entries], [float(e[key]) for e in entries]


def plot_loss_curve(log_history: Sequence[dict[str, Any]], path: str | os.PathLike, title: str = "") -> bool:
    """Plot training loss (and evaluation loss, if logged) against the optimizer step into `path`.

    Returns False (and writes nothing) when the history holds no loss values.
    """
    import matplotlib

    matplotlib.use("Agg", force=True)
    from matplotlib.figure import Figure

    train_steps, train_losses = loss_points(log_history, "loss")
    eval_steps, eval_losses = loss_points(log_history, "eval_loss")
    if not train_losses and not eval_losses:
        return False
    figure = Figure(figsize=(7, 4.5), dpi=100)
    axes = figure.add_subplot()
    if train_losses:
        axes.plot(train_steps, train_losses, marker="." if len(train_losses) < 50 else None, label="training loss")
    if eval_losses:
        axes.plot(eval_steps, eval_losses, marker="o", label="evaluation loss")
    axes.set_xlabel("optimizer step")
    axes.set_ylabel("masked-token cross-entropy")
    axes.set_title(title or "Perceiver IO masked language model")
    axes.grid(alpha=0.3)
    axes.legend()
    figure.tight_layout()
    figure.savefig(os.fspath(path))
    return True


__all__ = ["loss_points", "plot_loss_curve"]
