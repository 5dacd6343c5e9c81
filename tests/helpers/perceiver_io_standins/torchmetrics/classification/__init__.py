"""Test stand-in for `torchmetrics.classification`."""

from . import accuracy  # noqa: F401
