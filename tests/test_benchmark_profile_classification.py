"""benchmarks/profile_classification.py runs on the tiny size and prints, for both models, a forward and a backward
table in which the matrix products are found (no time is asserted; docs/classification.md has measured tables)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"


def test_profile_benchmark_smoke(monkeypatch, capsys) -> None:
    monkeypatch.syspath_prepend(str(BENCHMARKS))  # train_classification and its `speedbench` imports
    spec = importlib.util.spec_from_file_location("profile_classification", BENCHMARKS / "profile_classification.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.main(["--size", "smoke", "--seq_len", "16", "--batch_size", "2", "--rounds", "1"])
    printed = capsys.readouterr().out
    assert "\nforward\n" in printed and "\nbackward\n" in printed
    shares = [line for line in printed.splitlines() if line.startswith("| **matmul share**")]
    assert len(shares) == 2
    for line in shares:  # both models' shares are percentages above 0: the matmul ops were recognised
        cells = [cell.strip() for cell in line.strip("|").split("|")[1:]]
        assert len(cells) == 2 and all(cell.endswith("%") and int(cell[:-1]) > 0 for cell in cells)
