"""benchmarks/train_classification.py runs on its tiny size, and transformers' classifier and ours (converted from
it) give the same logits. No time is asserted (machines vary); docs/classification.md has the measured table."""

from __future__ import annotations

import importlib.util
from pathlib import Path

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"


def test_classification_benchmark_smoke(monkeypatch) -> None:
    monkeypatch.syspath_prepend(str(BENCHMARKS))  # its `speedbench` imports
    spec = importlib.util.spec_from_file_location("train_classification", BENCHMARKS / "train_classification.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    results = module.main(["--size", "smoke", "--seq_len", "16", "--batch_size", "2", "--repeats", "1"])
    assert len(results) == 2  # unpadded, padded
    for result in results:
        assert result["max_abs_logit_diff"] < 1e-5
        assert result["ours_s"] > 0 and result["transformers_s"] > 0 and result["fastest_ratio"] > 0
