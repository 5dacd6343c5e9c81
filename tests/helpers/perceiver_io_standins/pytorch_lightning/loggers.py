"""Test stand-in for `pytorch_lightning.loggers` (a name perceiver-io imports)."""


class TensorBoardLogger:
    """Never instantiated by the tests."""
