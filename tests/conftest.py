"""Common pytest fixtures: the haiku-tiny configuration, tiny models and the reference fixture folder.

The tiny configuration is DeepMind's notebook model shrunk the way tests/fixtures/haiku-tiny/manifest.json
describes it (C=64, D=96, N=16, 2 self-attention layers, 4 heads, q/k 32, decoder v 64, 128 positions).
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any, Callable

os.environ.setdefault("OMP_NUM_THREADS", "1")

import pytest  # noqa: E402
import torch  # noqa: E402
from torch import nn  # noqa: E402

from perceiver_hf import PerceiverConfig, PerceiverForMaskedLM  # noqa: E402
from perceiver_hf.core import TrainableQueryProvider  # noqa: E402
from perceiver_hf.text import TextInputAdapter, TiedTextOutputAdapter  # noqa: E402
from perceiver_hf.training.presets import TINY_CONFIG as PRESET_TINY_CONFIG  # noqa: E402

torch.set_num_threads(1)

REPO_ROOT = Path(__file__).resolve().parents[1]

TINY_CONFIG: dict[str, Any] = PRESET_TINY_CONFIG  # the one tiny config: `perceiver-hf train --preset tiny`


# the marks transformers' common test files use (tests/test_transformers_common.py), registered as transformers'
# own conftest.py (not in its sdist) registers them
TRANSFORMERS_TEST_MARKS = (
    "slow", "accelerate_tests", "flash_attn_test", "flash_attn_3_test", "flash_attn_4_test", "torch_compile_test"
)


def pytest_configure(config: pytest.Config) -> None:
    for mark in TRANSFORMERS_TEST_MARKS:
        config.addinivalue_line("markers", f"{mark}: a mark of transformers' common tests")


FIXTURES_DIR = REPO_ROOT / "tests" / "fixtures"
HAIKU_TINY_DIR = FIXTURES_DIR / "haiku-tiny"


@pytest.fixture(scope="session")
def haiku_tiny_dir() -> Path:
    """tests/fixtures/haiku-tiny: DeepMind's reference parameters, inputs and logits for the tiny model."""
    return HAIKU_TINY_DIR


def make_tiny_config(**overrides: Any) -> PerceiverConfig:
    """The haiku-tiny `PerceiverConfig`, with `overrides` applied."""
    return PerceiverConfig(**{**TINY_CONFIG, **overrides})


@pytest.fixture(scope="session")
def tiny_config() -> Callable[..., PerceiverConfig]:
    """Factory: `tiny_config(**overrides)` -> the haiku-tiny `PerceiverConfig`."""
    return make_tiny_config


def randomize_(model: nn.Module, seed: int = 0) -> nn.Module:
    """Overwrite every parameter with values large enough that mistakes show (the fixture's `random_values`).

    With transformers' std-0.02 initialisation the logits are nearly input-independent, so padding, masking
    or position bugs would move them by less than float32 noise. Linear w ~ N(0, 1/fan_in), biases
    ~ N(0, 0.2), LayerNorm scale ~ N(1, 0.2) and offset ~ N(0, 0.2), embeddings and position/latent/query
    arrays ~ N(0, 0.5), as in tests/fixtures/haiku-tiny/manifest.json.
    """
    generator = torch.Generator().manual_seed(seed)

    def normal_(param: torch.Tensor, mean: float, std: float) -> None:
        param.copy_(torch.randn(param.shape, generator=generator) * std + mean)

    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, nn.Linear):
                normal_(module.weight, 0.0, 1.0 / math.sqrt(module.in_features))
                normal_(module.bias, 0.0, 0.2)
            elif isinstance(module, nn.LayerNorm):
                normal_(module.weight, 1.0, 0.2)
                normal_(module.bias, 0.0, 0.2)
            elif isinstance(module, nn.Embedding):
                normal_(module.weight, 0.0, 0.5)
            elif isinstance(module, TextInputAdapter):
                normal_(module.pos_encoding, 0.0, 0.5)
            elif isinstance(module, TrainableQueryProvider):
                normal_(module.query, 0.0, 0.5)
            elif isinstance(module, TiedTextOutputAdapter):
                normal_(module.bias, 0.0, 0.5)
                if not any(module.weight is m.weight for m in model.modules() if isinstance(m, nn.Embedding)):
                    normal_(module.weight, 0.0, 0.5)  # untied output matrix
    return model


def make_tiny_model(seed: int = 0, **overrides: Any) -> PerceiverForMaskedLM:
    """A haiku-tiny `PerceiverForMaskedLM` in eval mode with randomized (large) weights."""
    return randomize_(PerceiverForMaskedLM(make_tiny_config(**overrides)), seed).eval()


@pytest.fixture(scope="session")
def tiny_model() -> Callable[..., PerceiverForMaskedLM]:
    """Factory: `tiny_model(seed=0, **config_overrides)` -> randomized haiku-tiny model in eval mode."""
    return make_tiny_model


def make_random_ids(batch_size: int, seq_len: int, seed: int = 0, low: int = 6, high: int = 262) -> torch.Tensor:
    """Random byte-token ids [B, L] (no special ids by default)."""
    return torch.randint(low, high, (batch_size, seq_len), generator=torch.Generator().manual_seed(seed))


@pytest.fixture(scope="session")
def random_ids() -> Callable[..., torch.Tensor]:
    """Factory: `random_ids(batch_size, seq_len, seed=0)` -> random byte-token ids [B, L]."""
    return make_random_ids
