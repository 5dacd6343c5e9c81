"""Test stand-in for `torchmetrics` (only `classification.accuracy.Accuracy`, which perceiver-io's LitClassifier makes)."""

from . import classification  # noqa: F401
