"""`quiet_loading()`: load a model without transformers' per-load progress bars ("Loading weights", shards).

Progress bars belong to long work (conversion, training, a download); loading or saving a small model folder
takes well under a second, so the command-line tools and the demo load inside this context.
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator


@contextmanager
def quiet_loading() -> Iterator[None]:
    """Disable transformers' progress bars inside the block and restore the previous setting after it."""
    from transformers.utils import logging

    enabled = logging.is_progress_bar_enabled()
    logging.disable_progress_bar()
    try:
        yield
    finally:
        if enabled:
            logging.enable_progress_bar()
