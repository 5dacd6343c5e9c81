"""The number of parameters a model would have, counted on the model built on the meta device, and the refusal
of a model too large for this machine before anything is allocated.

`check_model_size` runs in every model's `__init__`: a config.json is input from a file, and `num_latents:
10000000` would otherwise take minutes and gigabytes before failing. The count is not a formula of the config's
fields: the same class is built on the meta device (shapes only, nothing allocated, a few milliseconds per layer
whatever its size), with transformers' weight tying, and its parameters are counted (a tied or shared one once).
Set `PERCEIVER_HF_ALLOW_LARGE_MODELS=1` to build a larger model anyway.
"""

from __future__ import annotations

import os
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Callable, Iterator

import torch
from torch import nn

ALLOW_LARGE_ENV = "PERCEIVER_HF_ALLOW_LARGE_MODELS"
"""Set to 1 to build a model whose float32 parameters exceed half of this machine's memory."""

_COUNTING = ContextVar("perceiver_hf_counting_on_meta", default=False)


@contextmanager
def _counting() -> Iterator[None]:
    token = _COUNTING.set(True)
    try:
        yield
    finally:
        _COUNTING.reset(token)


def num_parameters_on_meta(build: Callable[[], nn.Module]) -> int:
    """The parameters of the module `build()` makes, built on the meta device; a tied or shared parameter counts
    once. The size checks of the models built inside are skipped (this is the count they would make)."""
    with _counting(), torch.device("meta"):
        model = build()
    return sum(p.numel() for p in model.parameters())  # `parameters()` yields a shared parameter once


def _machine_memory_bytes() -> int:
    try:
        return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return 0


def check_model_size(count_parameters: Callable[[], int]) -> None:
    """Refuse (ValueError, with the figures) a model whose float32 parameters, `count_parameters()`, exceed half of
    this machine's memory. Nothing is counted inside `num_parameters_on_meta`, or when the environment variable
    `PERCEIVER_HF_ALLOW_LARGE_MODELS=1` allows any size."""
    if os.environ.get(ALLOW_LARGE_ENV) == "1" or _COUNTING.get():
        return
    num_parameters = count_parameters()
    memory = _machine_memory_bytes()
    if memory and num_parameters * 4 > memory // 2:
        raise ValueError(
            f"This config implies about {num_parameters:,} parameters ({num_parameters * 4 / 2**30:,.1f} GiB in "
            f"float32), more than half of this machine's {memory / 2**30:,.1f} GiB of memory; check num_latents, "
            f"the channel widths and max_seq_len in the config, or set {ALLOW_LARGE_ENV}=1 to build it anyway."
        )


__all__ = ["ALLOW_LARGE_ENV", "check_model_size", "num_parameters_on_meta"]
