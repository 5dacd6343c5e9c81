"""Test stand-in for `pytorch_lightning` (only what perceiver-io 0.4.0's model classes use)."""

from __future__ import annotations

import inspect
from typing import Any

from torch import nn

from . import loggers  # noqa: F401  (perceiver.model.text.language imports pytorch_lightning.loggers)


class AttributeDict(dict):
    """A dict whose keys read as attributes (Lightning's `hparams`)."""

    def __getattr__(self, name: str) -> Any:
        try:
            return self[name]
        except KeyError as error:
            raise AttributeError(name) from error


class LightningModule(nn.Module):
    """`nn.Module` plus `save_hyperparameters()`, which records the caller's `__init__` arguments in `hparams`."""

    def __init__(self) -> None:
        super().__init__()
        self.hparams = AttributeDict()

    def save_hyperparameters(self) -> None:
        """Collect the arguments of the outermost `__init__` in the call stack (as Lightning does)."""
        collected: dict[str, Any] = {}
        frame = inspect.currentframe().f_back
        while frame is not None and frame.f_locals.get("self") is self and frame.f_code.co_name == "__init__":
            arguments = inspect.getargvalues(frame)
            values = {name: arguments.locals[name] for name in arguments.args if name != "self"}
            values.update(arguments.locals.get(arguments.keywords, {}) if arguments.keywords else {})
            collected = {**values, **collected}
            frame = frame.f_back
        self.hparams.update(collected)
