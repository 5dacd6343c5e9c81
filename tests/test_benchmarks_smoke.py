"""The speed benchmark suite runs end to end on its tiny configuration and both implementations agree.

No timing is asserted (CI machines vary); only that every case runs, writes its outputs, and that
transformers' Perceiver and ours, holding the same weights, give the same numbers.
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
AGREEMENT_TOLERANCE = 1e-4  # fp32: the two implementations differ by ~1e-9 on the smoke configuration


@pytest.fixture(scope="module")
def smoke_results(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict, Path]:
    spec = importlib.util.spec_from_file_location("run_speed", REPO_ROOT / "benchmarks" / "run_speed.py")
    run_speed = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(run_speed)
    out_dir = tmp_path_factory.mktemp("speed")
    run_speed.main(["--smoke", "--repeats", "1", "--heavy-repeats", "1", "--out-dir", str(out_dir)])
    return json.loads((out_dir / "speed-smoke.json").read_text()), out_dir


def test_every_case_ran_and_wrote_its_outputs(smoke_results):
    results, out_dir = smoke_results
    cases = [case["case"] for case in results["cases"]]
    assert cases == ["fill_mask", "quantization", "bf16", "onnx", "throughput", "train_byte", "roofline", "train_base", "length"]
    assert (out_dir / "latency_vs_length-smoke.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    table = (out_dir / "speed-smoke.md").read_text()
    assert "| target | measured | limit | met |" in table
    assert "not the sizes the targets are set for" in (out_dir / "speed-summary-smoke.md").read_text()
    for case in results["cases"]:
        rows = case.get("rows") or [r for point in case["points"] for r in point["rows"]]
        assert all(r["gflop"] > 0 and r["median_s"] > 0 for r in rows), case["case"]


def test_transformers_and_ours_agree(smoke_results):
    results, _ = smoke_results
    checked = 0
    for case in results["cases"]:
        for name, value in case["agreement"].items():
            if name.startswith("max_abs_diff") or name.startswith("abs_diff"):
                if case["case"] not in ("quantization", "bf16"):  # lower precision on purpose
                    assert value <= AGREEMENT_TOLERANCE, f"{case['case']}: {name} = {value}"
                    checked += 1
    assert checked >= 8
    by_case = {case["case"]: case for case in results["cases"]}
    assert by_case["fill_mask"]["agreement"]["top1_equal"]


def test_int8_mostly_agrees_with_fp32(smoke_results):
    results, _ = smoke_results
    [quantization] = [case for case in results["cases"] if case["case"] == "quantization"]
    assert quantization["agreement"]["top1_agreement"] >= 0.8


def test_bf16_agrees_with_fp32_within_its_precision(smoke_results):
    """bf16 keeps 8 significant bits (relative spacing 2**-8): logits within 3% of the largest, the same top-1
    token nearly everywhere, gradients pointing the same way; bf16 weights lose small AdamW updates (a weight
    of 1.0, as LayerNorm gains start, has bf16 neighbours 2**-7 apart, far more than an lr 1e-4 step; float32
    loses only those of elements whose gradient is far below AdamW's eps)."""
    results, _ = smoke_results
    [fill_mask, train] = next(case for case in results["cases"] if case["case"] == "bf16")["points"]
    fill, step = fill_mask["agreement"], train["agreement"]
    for variant in ("bf16_weights", "bf16_autocast"):
        assert fill[f"max_abs_diff_logits_{variant}_vs_fp32"] <= 0.03 * fill["max_abs_logit_fp32"]
        assert fill[f"top1_agreement_{variant}"] >= 0.8
        assert step[f"abs_diff_loss_{variant}"] <= 0.01 * step["loss_fp32"]
        assert step[f"gradient_cosine_{variant}_vs_fp32"] >= 0.99
    assert step["adamw_updates_lost_fp32"] < 0.001 < step["adamw_updates_lost_bf16_weights"]
    assert set(fill_mask["ratios"]) == {"bf16_weights speedup over fp32", "bf16_autocast speedup over fp32"}


def test_perceiver_ar_generation_benchmark_runs_and_its_two_paths_agree():
    spec = importlib.util.spec_from_file_location("perceiver_ar_generation", REPO_ROOT / "benchmarks" / "perceiver_ar_generation.py")
    benchmark = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(benchmark)
    results = benchmark.main(["--smoke", "--repeats", "1", "--threads", "1"])
    assert results["cached_equals_uncached_tokens_batch1"] is True
    assert {(c["batch_size"], c["use_cache"]) for c in results["perceiver_hf"]} == {(1, True), (1, False), (8, True), (8, False)}
    assert "| batch | perceiver-hf cached tok/s |" in results["table"]
