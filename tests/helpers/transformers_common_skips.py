"""The one list of transformers common tests that do not apply to the Perceiver IO classes, with the reason.

Keys are test names of `ModelTesterMixin` (a parameterized test's base name covers all its expansions, e.g.
`test_eager_matches_sdpa_inference` covers `test_eager_matches_sdpa_inference_00_fp16_pad_left_sdpa_kernels`).
Only tests that cannot apply belong here (hardware, kernels, a feature the architecture lacks by design);
a test that fails because the model falls short of transformers' contract stays a failure.
Tests that transformers' own decorators already skip on this machine (GPU-only, flash-attention kernels,
multi-GPU, `@slow`) are not repeated here.
"""

from __future__ import annotations

import re
import unittest
from typing import TypeVar

# perceiver-hf refuses a checkpoint with missing weights (`WeightsMismatchError` naming them, issue 25 item 3,
# tests/robustness/test_strict_loading.py) where transformers loads it and reports them; the one allowed gap is a
# task head the checkpoint lacks entirely, which is initialised and reported
_STRICT_LOADING = "perceiver-hf refuses a checkpoint with missing weights (strict loading, issue 25 item 3)"

SKIPS: dict[str, str] = {
    "test_model_weights_reload_no_missing_tied_weights": (
        "loads a checkpoint holding none of the model's weights and expects every weight reported missing; "
        + _STRICT_LOADING
    ),
    "test_can_init_all_missing_weights": (
        f"loads an empty state dict (`from_pretrained(None, state_dict={{}})`) to compare `_init_weights` with "
        f"__init__; {_STRICT_LOADING}"
    ),
}


TestClass = TypeVar("TestClass", bound=type)


def _skip_key(test_name: str) -> str | None:
    """The SKIPS key that covers `test_name` (itself, or the base name of a parameterized expansion)."""
    if test_name in SKIPS:
        return test_name
    for key in SKIPS:
        if re.fullmatch(rf"{re.escape(key)}_\d+(_\w*)?", test_name):
            return key
    return None


def apply_skips(test_class: TestClass) -> TestClass:
    """Class decorator: mark each test of `test_class` that SKIPS lists as skipped, with its reason."""
    for name in dir(test_class):
        key = _skip_key(name) if name.startswith("test_") else None
        if key is not None:
            setattr(test_class, name, unittest.skip(SKIPS[key])(getattr(test_class, name)))
    return test_class


def unmatched_skips(test_names: list[str]) -> list[str]:
    """SKIPS keys that cover none of `test_names` (stale entries)."""
    covered = {_skip_key(name) for name in test_names}
    return sorted(set(SKIPS) - covered)
