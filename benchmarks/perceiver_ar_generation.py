"""Perceiver AR generation speed: perceiver-hf with and without its cache, side by side with the library's own.

The library's side runs in its throwaway virtualenv (benchmarks/perceiver_ar_library_generation.py; how to build
the venv: tests/fixtures/perceiver_io_hf/README.md): it builds and saves the model, times its own `generate`, and
records the prompt and its batch-1 tokens. This script converts that very folder (`perceiver-hf convert
perceiver-io`), times perceiver-hf's `generate` on the same prompts (1024 tokens, 200 new, greedy, num_latents=1,
batch 1 and 8, cache on and off; cached once more with the documented float32 CPU inference opt-in
`perceiver_hf.cpu_linear.use_onednn_linears`, which `perceiver-hf fill` applies), checks that batch 1 generates
the library's tokens, and writes one table::

    /tmp/pio11venv/bin/python benchmarks/perceiver_ar_library_generation.py /tmp/perceiver-ar-bench-model \\
        /tmp/library.json --threads 2
    python benchmarks/perceiver_ar_generation.py /tmp/perceiver-ar-bench-model /tmp/library.json \\
        --out benchmarks/results/perceiver_ar_generation.json --threads 2

`--step-threads` instead times one cached decoding step (batch 1, after the 1024-token prompt; median of 60 steps)
at 1 and 2 threads, as built and with the oneDNN opt-in: the batch-1 figures' explanation (docs/causal-lm.md).

`--library-python PATH` runs the library's script first, in this same invocation (so both sides are measured under
the same machine state). `--smoke` times a tiny model built here instead (no library folder; for the test suite).
Each case reports the median of `--repeats` runs (one run where a first run takes over `--max-case-seconds`).
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Optional

import torch

import perceiver_hf  # noqa: F401  (registers perceiver_ar)
from perceiver_hf import PerceiverARConfig, PerceiverForCausalLM
from perceiver_hf.convert import convert_perceiver_io_folder
from perceiver_hf.cpu_linear import use_onednn_linears, use_plain_linears

BENCHMARKS = Path(__file__).resolve().parent
BATCH_SIZES = (1, 8)


def generate(model: PerceiverForCausalLM, prompt: torch.Tensor, new_tokens: int, use_cache: bool) -> torch.Tensor:
    with torch.no_grad():
        return model.generate(
            prompt, attention_mask=torch.ones_like(prompt), max_new_tokens=new_tokens, min_new_tokens=new_tokens,
            do_sample=False, num_beams=1, num_latents=1, use_cache=use_cache, pad_token_id=0, eos_token_id=None,
        )  # fmt: skip


def time_case(model: PerceiverForCausalLM, prompt: torch.Tensor, new_tokens: int, use_cache: bool, repeats: int,
              max_case_seconds: float) -> dict[str, Any]:  # fmt: skip
    seconds: list[float] = []
    sequences = None
    while len(seconds) < repeats:
        start = time.perf_counter()
        sequences = generate(model, prompt, new_tokens, use_cache)
        seconds.append(time.perf_counter() - start)
        print(f"  perceiver-hf batch {prompt.shape[0]} use_cache={use_cache}: {seconds[-1]:.2f} s", file=sys.stderr)
        if seconds[0] > max_case_seconds:
            break
    median = statistics.median(seconds)
    return {
        "batch_size": prompt.shape[0], "use_cache": use_cache, "runs": len(seconds),
        "seconds": [round(value, 3) for value in seconds], "median_seconds": round(median, 3),
        "tokens_per_second": round(prompt.shape[0] * new_tokens / median, 2), "sequences": sequences,
    }  # fmt: skip


def _row(cases: list[dict], batch: int, cache: bool) -> dict:
    return next(c for c in cases if c["batch_size"] == batch and c["use_cache"] == cache)


def table(ours: list[dict], onednn: list[dict], library: Optional[list[dict]]) -> str:
    lines = ["| batch | perceiver-hf cached tok/s | uncached tok/s | cached / uncached | cached, oneDNN opt-in tok/s |"
             + (" library cached tok/s | library uncached tok/s | perceiver-hf cached / library cached (opt-in) |"
                if library else ""),
             "| --- | --- | --- | --- | --- |" + (" --- | --- | --- |" if library else "")]  # fmt: skip
    for batch in BATCH_SIZES:
        cached, uncached = _row(ours, batch, True), _row(ours, batch, False)
        fast = _row(onednn, batch, True)
        line = (f"| {batch} | {cached['tokens_per_second']} | {uncached['tokens_per_second']} | "
                f"{cached['tokens_per_second'] / uncached['tokens_per_second']:.2f}x | {fast['tokens_per_second']} |")  # fmt: skip
        if library:
            lib_cached, lib_uncached = _row(library, batch, True), _row(library, batch, False)
            line += (f" {lib_cached['tokens_per_second']} | {lib_uncached['tokens_per_second']} | "
                     f"{cached['tokens_per_second'] / lib_cached['tokens_per_second']:.2f}x "
                     f"({fast['tokens_per_second'] / lib_cached['tokens_per_second']:.2f}x) |")  # fmt: skip
        lines.append(line)
    return "\n".join(lines)


def cached_step_ms(model: PerceiverForCausalLM, prompt: torch.Tensor, steps: int = 60) -> float:
    """Median ms of one cached decoding step (one new token) after `prompt` [1, n] (at most `steps` steps, as many
    as fit in max_seq_len)."""
    n = prompt.shape[1]
    steps = min(steps, model.config.max_seq_len - n)
    ids = prompt.repeat(1, 2 + steps // n)[:, : n + steps]
    times = []
    with torch.no_grad():
        cache = model(ids[:, :n], prefix_len=n - 1, use_cache=True).cache
        for i in range(n, n + steps):
            start = time.perf_counter()
            mask = torch.ones(1, i + 1, dtype=torch.long)
            cache = model(ids[:, i : i + 1], attention_mask=mask, cache=cache, use_cache=True, logits_to_keep=1).cache
            times.append(time.perf_counter() - start)
    return round(statistics.median(times) * 1000, 2)


def step_threads(argv: list[str]) -> dict[str, float]:
    """The cached step at 1 and 2 threads, as built and with the oneDNN opt-in: each in its own process (a thread
    pool resized in one process slows oneDNN's later calls)."""
    results = {}
    for mode in ("plain", "onednn"):
        for threads in (1, 2):
            command = [sys.executable, __file__, *argv, "--step-one", mode, "--threads", str(threads)]
            done = subprocess.run(command, check=True, capture_output=True, text=True)
            results[f"{mode}_{threads}_threads_ms"] = float(done.stdout.strip().splitlines()[-1])
    return results


def smoke_model() -> tuple[PerceiverForCausalLM, torch.Tensor, int]:
    torch.manual_seed(0)
    config = PerceiverARConfig(num_channels=32, num_heads=4, max_seq_len=64, max_latents=16, num_self_attention_layers=2)
    prompts = torch.randint(6, 262, (max(BATCH_SIZES), 24), generator=torch.Generator().manual_seed(0))
    return PerceiverForCausalLM(config).eval(), prompts, 8


def main(argv: Optional[list[str]] = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("library_folder", nargs="?", help="the folder the library's script saved its model to")
    parser.add_argument("library_results", nargs="?", help="the JSON the library's script wrote")
    parser.add_argument("--library-python", help="run the library's script first with this interpreter (its venv)")
    parser.add_argument("--out", type=Path, help="results JSON (default: print only)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--max-case-seconds", type=float, default=60.0)
    parser.add_argument("--smoke", action="store_true", help="a tiny model built here; no library")
    parser.add_argument("--step-threads", action="store_true", help="time one cached step at 1 and 2 threads")
    parser.add_argument("--step-one", choices=("plain", "onednn"), help=argparse.SUPPRESS)  # one --step-threads case
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)

    library = None
    if args.smoke:
        model, prompts, new_tokens = smoke_model()
    else:
        if not (args.library_folder and args.library_results):
            parser.error("give LIBRARY_FOLDER and LIBRARY_RESULTS (or --smoke)")
        if args.library_python:
            subprocess.run([args.library_python, str(BENCHMARKS / "perceiver_ar_library_generation.py"),
                            args.library_folder, args.library_results, "--threads", str(args.threads)], check=True)  # fmt: skip
        library = json.loads(Path(args.library_results).read_text(encoding="utf-8"))
        converted = convert_perceiver_io_folder(args.library_folder, Path(tempfile.mkdtemp()) / "model", progress=False)
        model = PerceiverForCausalLM.from_pretrained(converted).eval()
        seed, new_tokens = library["model"]["seed"], len(library["batch1_cached_generated_ids"])
        prompt_len = len(library["prompt"]["batch1_prompt_ids"])
        prompts = torch.randint(6, 262, (max(BATCH_SIZES), prompt_len), generator=torch.Generator().manual_seed(seed))
        if prompts[0].tolist() != library["prompt"]["batch1_prompt_ids"]:
            raise SystemExit("The prompts differ from the library's (its recipe changed?); rerun both scripts.")

    if args.step_one:
        if args.step_one == "onednn":
            use_onednn_linears(model)
        print(cached_step_ms(model, prompts[:1]))
        return {}
    if args.step_threads:
        passed = [a for a in (args.library_folder, args.library_results) if a] + (["--smoke"] if args.smoke else [])
        results = step_threads(passed)
        print(json.dumps(results))
        if args.out:
            args.out.write_text(json.dumps(results, indent=1) + "\n", encoding="utf-8")
        return results
    cases = [time_case(model, prompts[:batch], new_tokens, cache, args.repeats, args.max_case_seconds)
             for batch in BATCH_SIZES for cache in (True, False)]  # fmt: skip
    use_onednn_linears(model)
    onednn = [time_case(model, prompts[:batch], new_tokens, True, args.repeats, args.max_case_seconds)
              for batch in BATCH_SIZES]  # fmt: skip
    use_plain_linears(model)
    same = torch.equal(_row(cases, 1, True)["sequences"], _row(cases, 1, False)["sequences"])
    same_onednn = torch.equal(_row(cases, 1, True)["sequences"], _row(onednn, 1, True)["sequences"])
    results: dict[str, Any] = {
        "machine": f"{platform.processor() or platform.machine()}, torch {torch.__version__}, {args.threads} threads",
        "setting": f"greedy, num_latents=1, prompt {prompts.shape[1]} tokens, {new_tokens} new tokens",
        "cached_equals_uncached_tokens_batch1": same,
        "onednn_opt_in_equals_plain_tokens_batch1": same_onednn,
        "perceiver_hf": [{k: v for k, v in c.items() if k != "sequences"} for c in cases],
        "perceiver_hf_onednn_opt_in": [{k: v for k, v in c.items() if k != "sequences"} for c in onednn],
    }
    if library is not None:
        ours_ids = _row(cases, 1, True)["sequences"][0, prompts.shape[1]:].tolist()
        results["same_tokens_as_library_batch1"] = ours_ids == library["batch1_cached_generated_ids"]
        results["library"] = library["cases"]
    results["table"] = table(results["perceiver_hf"], results["perceiver_hf_onednn_opt_in"], results.get("library"))
    print(results["table"])
    if args.out:
        args.out.write_text(json.dumps(results, indent=1) + "\n", encoding="utf-8")
    return results


if __name__ == "__main__":
    main()
