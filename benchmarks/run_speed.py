"""Speed benchmarks: perceiver-hf against transformers' PerceiverForMaskedLM, same weights, one process.

    python benchmarks/run_speed.py            # full size (about 10 minutes on 2 idle cores)
    python benchmarks/run_speed.py --smoke    # tiny configuration, a few seconds (what CI runs)

transformers' model is randomly initialised and converted into ours, so both hold the same weights; the two
are called alternately (interleaved) so that they share whatever load the machine has. Writes
benchmarks/results/speed[-smoke].json, speed[-smoke].md (every measurement), speed-summary[-smoke].md (the
docs/speed.md table) and latency_vs_length[-smoke].png.
"""

from __future__ import annotations

import argparse
import gc
import os
import sys
from pathlib import Path
from typing import Any, Callable

import torch
import transformers

sys.path.insert(0, str(Path(__file__).resolve().parent))

from speedbench.cases_bf16 import bf16_case  # noqa: E402
from speedbench.cases_inference import fill_mask_case, length_case, throughput_case  # noqa: E402
from speedbench.cases_onnx import onnx_case  # noqa: E402
from speedbench.cases_quantization import quantization_case  # noqa: E402
from speedbench.cases_roofline import roofline_case  # noqa: E402
from speedbench.cases_training import train_case  # noqa: E402
from speedbench.models import base_config, build_pair, byte_config, smoke_config  # noqa: E402
from speedbench.report import markdown, plot_length, summary, write_json  # noqa: E402
from speedbench.timing import machine_info  # noqa: E402

RESULTS_DIR = Path(__file__).resolve().parent / "results"
CASES = ("fill_mask", "quantization", "bf16", "onnx", "throughput", "train_byte", "roofline", "train_base", "length")


SMOKE_NOTE = (
    "Smoke run: tiny configurations, not the sizes the targets are set for (the byte model and Perceiver IO Base), "
    "so 'met' says nothing about the targets here; run without --smoke to check them."
)


def _plan(smoke: bool) -> dict[str, Any]:
    """Sizes for the full suite or the tiny smoke configuration."""
    if smoke:
        return dict(byte=smoke_config(), base=smoke_config(vocab_size=1000), long=smoke_config(max_seq_len=128),
                    throughput=(2, 32), train=(2, 32), lengths=[16, 32, 64, 128], roofline_batches=[1, 2],
                    matmul_size=128)
    return dict(byte=byte_config(), base=base_config(), long=byte_config(max_seq_len=8192),
                throughput=(8, 512), train=(4, 512), lengths=[256, 512, 1024, 2048, 4096, 8192],
                roofline_batches=[1, 8], matmul_size=4096)


def run(smoke: bool, repeats: int, heavy_repeats: int, cases: tuple[str, ...]) -> dict[str, Any]:
    """Run the selected cases; returns the results dict (also what is written to JSON).

    Batch-1 cases are timed `repeats` times, the multi-second ones (batches, training, lengths) `heavy_repeats`.
    """
    plan = _plan(smoke)
    busy = os.getloadavg()[0]
    if busy > 0.5:
        print(f"[run_speed] load average {busy:.1f}: other processes share the CPUs, so timings will be noisy "
              "(ratios less so: the implementations are interleaved). Rerun when the machine is idle.", flush=True)
    results: dict[str, Any] = {"machine": machine_info(), "smoke": smoke, "repeats": repeats,
                               "heavy_repeats": heavy_repeats, "cases": []}

    def add(case: str, make: Callable[[], dict[str, Any]]) -> None:
        if case in cases:
            print(f"[run_speed] {case} ...", flush=True)
            results["cases"].append(make())

    if {"fill_mask", "quantization", "bf16", "onnx", "throughput", "train_byte", "roofline"} & set(cases):
        pair = build_pair(plan["byte"])
        add("fill_mask", lambda: fill_mask_case(pair, repeats))
        add("quantization", lambda: quantization_case(pair.ours, repeats))
        add("bf16", lambda: bf16_case(pair.ours, repeats, *plan["train"], heavy_repeats))
        add("onnx", lambda: onnx_case(pair.ours, repeats, "smoke config" if smoke else "full size"))
        add("throughput", lambda: throughput_case(pair, *plan["throughput"], heavy_repeats))
        add("train_byte", lambda: train_case(
            pair, "train_byte", "byte config", *plan["train"], heavy_repeats, target_ratio=0.92))
        batches = [(batch, repeats if batch == 1 else heavy_repeats) for batch in plan["roofline_batches"]]
        add("roofline", lambda: roofline_case(pair, batches, plan["matmul_size"]))
        del pair
        gc.collect()
    if "train_base" in cases:
        pair = build_pair(plan["base"])
        add("train_base", lambda: train_case(
            pair, "train_base", "Perceiver IO Base", *plan["train"], heavy_repeats, target_ratio=0.8))
        del pair
        gc.collect()
    if "length" in cases:
        pair = build_pair(plan["long"])
        add("length", lambda: length_case(pair, plan["lengths"], heavy_repeats))
        del pair
    results["load_average_at_end"] = [round(x, 2) for x in os.getloadavg()]
    return results


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--smoke", action="store_true", help="tiny configuration (seconds; what CI runs)")
    parser.add_argument("--repeats", type=int, default=None, help="timed runs per inference case (default 7; smoke 2)")
    parser.add_argument(
        "--heavy-repeats", type=int, default=None,
        help="timed runs of the multi-second cases: batches, training steps, lengths (default 3; smoke 2)",
    )
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's choice)")
    parser.add_argument("--cases", nargs="+", choices=CASES, default=list(CASES), help="run only these cases")
    parser.add_argument("--out-dir", type=Path, default=RESULTS_DIR, help="where results are written")
    args = parser.parse_args(argv)
    transformers.utils.logging.disable_progress_bar()  # the save/convert/load progress bars of every model pair
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    repeats = args.repeats or (2 if args.smoke else 7)
    heavy_repeats = args.heavy_repeats or (2 if args.smoke else 3)
    results = run(args.smoke, repeats, heavy_repeats, tuple(args.cases))

    suffix = "-smoke" if args.smoke else ""
    write_json(results, args.out_dir / f"speed{suffix}.json")
    (args.out_dir / f"speed{suffix}.md").write_text(markdown(results) + "\n", encoding="utf-8")
    table = summary(results)
    if args.smoke:
        table = SMOKE_NOTE + "\n\n" + table
    (args.out_dir / f"speed-summary{suffix}.md").write_text(table + "\n", encoding="utf-8")
    for case in results["cases"]:
        if case["case"] == "length":
            plot_length(case, args.out_dir / f"latency_vs_length{suffix}.png")
    print(table)
    return results


if __name__ == "__main__":
    main()
