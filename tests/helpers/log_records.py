"""`RecordedMessages`: a logging handler that keeps the messages of the records it sees (for assertions)."""

from __future__ import annotations

import logging
from contextlib import contextmanager
from typing import Iterator


class RecordedMessages(logging.Handler):
    """Collects `record.getMessage()` of every record at any level in `messages`."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


@contextmanager
def recorded(logger_name: str, level: int = logging.WARNING) -> Iterator[RecordedMessages]:
    """Record what `logger_name` logs at `level` or above, by a handler on that logger itself: unlike pytest's
    caplog (a handler on the root logger) it does not depend on propagation, which transformers turns off outside
    CI and other code may change."""
    logger = logging.getLogger(logger_name)
    handler, old_level = RecordedMessages(), logger.level
    logger.addHandler(handler)
    logger.setLevel(level)
    try:
        yield handler
    finally:
        logger.removeHandler(handler)
        logger.setLevel(old_level)
