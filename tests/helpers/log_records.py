"""`RecordedMessages`: a logging handler that keeps the messages of the records it sees (for assertions)."""

from __future__ import annotations

import logging


class RecordedMessages(logging.Handler):
    """Collects `record.getMessage()` of every record at any level in `messages`."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())
