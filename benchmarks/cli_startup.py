"""Start-up time of the `perceiver-hf` command: the median wall-clock time of several runs of each call.

    python benchmarks/cli_startup.py            # 5 runs of each call
    python benchmarks/cli_startup.py --runs 9

Targets (issue 13): `--help` and argument errors <= 1 s (no torch or transformers import while parsing);
`perceiver-hf fill "text with [MASK]"` with the shipped model <= 3 s end to end. Runs the `perceiver-hf` next to
this interpreter (the virtualenv's), offline (HF_HUB_OFFLINE=1), and prints a markdown table for docs/speed.md.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

SENTENCE = "This is an incomplete sentence where some words are missing."
# (what is measured, arguments, target in seconds)
CALLS = [
    ("`perceiver-hf --help`", ["--help"], 1.0),
    ("`perceiver-hf fill --help`", ["fill", "--help"], 1.0),
    ("argument error (`fill --top-k x`)", ["fill", "--top-k", "x", "a [MASK]"], 1.0),
    ("text without a mask (`fill \"no mask\"`)", ["fill", "no mask"], 1.0),
    ("`perceiver-hf fill` with the shipped model", ["fill", SENTENCE, "--mask", " missing"], 3.0),
]


def command() -> str:
    """The `perceiver-hf` script of this interpreter's environment (else the one on PATH)."""
    beside = Path(sys.executable).parent / "perceiver-hf"
    found = str(beside) if beside.is_file() else shutil.which("perceiver-hf")
    if found is None:
        raise SystemExit("perceiver-hf is not installed: pip install -e . first")
    return found


def time_call(arguments: list[str], runs: int) -> float:
    """Median seconds of `runs` runs of `perceiver-hf ARGUMENTS` (output discarded)."""
    env = dict(os.environ, HF_HUB_OFFLINE="1")
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run([command(), *arguments], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="runs of each call (default 5)")
    args = parser.parse_args()
    print(f"| call | median of {args.runs} runs | target | met |\n|---|---|---|---|")
    for name, arguments, target in CALLS:
        seconds = time_call(arguments, args.runs)
        print(f"| {name} | {seconds:.2f} s | <= {target:g} s | {'yes' if seconds <= target else 'no'} |")
    load = ", ".join(f"{value:.2f}" for value in os.getloadavg())
    print(f"\n{os.cpu_count()} CPUs, load average {load} at the end.")


if __name__ == "__main__":
    main()
