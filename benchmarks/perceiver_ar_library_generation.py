"""Time the perceiver-io library's own Perceiver AR generation (the baseline perceiver-hf's causal LM is compared to).

Runs ONLY in the library's throwaway virtualenv (perceiver-io 0.11.0 on transformers 4.28; how to build it:
tests/fixtures/perceiver_io_hf/README.md, "Regenerating"), never in the project's venv::

    /tmp/pio11venv/bin/python benchmarks/perceiver_ar_library_generation.py /tmp/perceiver-ar-bench-model \\
        benchmarks/results/perceiver_ar_library_generation.json --threads 2

It builds the library's ``CausalLanguageModel`` (``num_channels`` 512, 8 heads, 8 self-attention layers,
``max_seq_len`` 2048, ``max_latents`` 512, byte vocabulary 262, absolute positions, output norm; the library's other
defaults; seeded random init, then N(0, 0.05) added to every parameter so that the greedy ids vary), saves it with
the library's ``save_pretrained`` (safetensors) into the output folder so that perceiver-hf can convert the very
same weights, then times the library's HF ``generate``: greedy
(``do_sample=False``, ``num_beams=1``), ``num_latents=1`` (the library's default), a fixed random prompt of 1024
tokens, 200 new tokens, batch 1 and 8, ``use_cache`` True and False. Each case reports the median of up to
``--repeats`` runs; a case whose first run takes longer than ``--max-case-seconds`` is run once (the JSON says so).

The JSON also records the batch-1 prompt and the 200 ids the cached run generated, so perceiver-hf can check it
generates the same tokens on the converted weights. Prompts: ``torch.randint(6, 262, (8, 1024),
generator=torch.Generator().manual_seed(seed))``; batch 1 is row 0. At this length (1024 + 200 tokens, latents
1..200) the sequence never passes ``max_latents`` or ``max_seq_len``, where the library's cached and uncached
generation agree (README of the fixtures, "Perceiver AR fixtures").

Measured 2026-12-07 (benchmarks/results/perceiver_ar_library_generation.json; 2 shared CPU cores, 2 threads, load
1.7-2.8; 29.5M parameters): batch 1 cached 3.54 s (56.6 tokens/s), uncached 16.5 s (12.1 tokens/s, 4.7x); batch 8
cached 10.2 s (156 tokens/s), uncached 174 s in one run (9.2 tokens/s, 17x). Cached and uncached tokens identical.
A first run while other jobs loaded the machine (load up to 5.5) took 19.1 / 275 / 212 / 402 s: compare only runs
made side by side.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import statistics
import sys
import time
from importlib import metadata
from pathlib import Path
from typing import Dict, List

import torch

from perceiver.model.text.clm import (
    CausalLanguageModelConfig,
    PerceiverCausalLanguageModel,
    PerceiverCausalLanguageModelConfig,
)

PROMPT_LEN = 1024
NEW_TOKENS = 200
BATCH_SIZES = (1, 8)
NOISE_STD = 0.05  # added to every parameter after the library's init (seeded)
FIRST_ID = 6  # no special ids in the prompt (the byte tokenizer's specials are 0..5; pad 0)
PACKAGES = ("perceiver-io", "torch", "transformers", "safetensors", "einops", "fairscale")


def build_model(seed: int) -> PerceiverCausalLanguageModel:
    """The library's causal LM at the benchmark size, seeded random init, eval mode."""
    config = CausalLanguageModelConfig(
        vocab_size=262,
        max_seq_len=2048,
        max_latents=512,
        num_channels=512,
        num_heads=8,
        num_self_attention_layers=8,
        abs_pos_emb=True,
        output_norm=True,
    )
    torch.manual_seed(seed)
    model = PerceiverCausalLanguageModel(PerceiverCausalLanguageModelConfig(config))
    model.config.is_decoder = True  # as the library's from_checkpoint() sets it
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():  # biases start at 0, LayerNorms at 1 and the init's logits are nearly flat: greedy
        for _, param in sorted(model.named_parameters()):  # would repeat one token; noise makes the ids a real check
            param.add_(torch.randn(param.shape, generator=generator) * NOISE_STD)
    return model.eval()


def generate(model: PerceiverCausalLanguageModel, prompt: torch.Tensor, use_cache: bool) -> torch.Tensor:
    """The library's greedy generate: [B, PROMPT_LEN + NEW_TOKENS] ids (no EOS: always NEW_TOKENS new ones)."""
    with torch.no_grad():
        return model.generate(
            input_ids=prompt,
            num_latents=1,
            max_new_tokens=NEW_TOKENS,
            do_sample=False,
            num_beams=1,
            use_cache=use_cache,
            pad_token_id=0,
            eos_token_id=None,
        )


def time_case(
    model: PerceiverCausalLanguageModel, prompt: torch.Tensor, use_cache: bool, repeats: int, max_case_seconds: float
) -> Dict[str, object]:
    """Median wall time of up to `repeats` generate runs (one if the first is slower than max_case_seconds)."""
    seconds: List[float] = []
    sequences = None
    while len(seconds) < repeats:
        start = time.perf_counter()
        sequences = generate(model, prompt, use_cache)
        seconds.append(time.perf_counter() - start)
        print(f"  batch {prompt.shape[0]} use_cache={use_cache}: {seconds[-1]:.2f} s", file=sys.stderr)
        if seconds[0] > max_case_seconds:
            break
    median = statistics.median(seconds)
    return {
        "batch_size": prompt.shape[0],
        "use_cache": use_cache,
        "runs": len(seconds),
        "runs_note": "" if len(seconds) == repeats else f"one run only: the first took {seconds[0]:.0f} s",
        "seconds": [round(value, 3) for value in seconds],
        "median_seconds": round(median, 3),
        "tokens_per_second": round(prompt.shape[0] * NEW_TOKENS / median, 2),
        "generated": sequences[:, PROMPT_LEN:],
    }


def speedup(by_key: Dict[tuple, Dict[str, object]], batch_size: int) -> float:
    """Uncached over cached median seconds for one batch size."""
    return round(by_key[(batch_size, False)]["median_seconds"] / by_key[(batch_size, True)]["median_seconds"], 2)


def main(argv: List[str]) -> None:
    """Build and save the model, time every case, write the results JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model_dir", type=Path, help="folder for the library's save_pretrained (safetensors)")
    parser.add_argument("results", type=Path, help="JSON file for the timings and the generated ids")
    parser.add_argument("--threads", type=int, default=2, help="torch.set_num_threads (default 2)")
    parser.add_argument("--repeats", type=int, default=3, help="runs per case, median reported (default 3)")
    parser.add_argument(
        "--max-case-seconds", type=float, default=120.0, help="run a case once if its first run is slower (default 120)"
    )
    parser.add_argument("--seed", type=int, default=2900, help="seed of the weights and the prompts")
    args = parser.parse_args(argv)
    if args.threads < 1 or args.repeats < 1:
        parser.error(f"--threads ({args.threads}) and --repeats ({args.repeats}) must be at least 1")
    torch.set_num_threads(args.threads)

    load_before = os.getloadavg()[0]  # other processes on the machine skew the timings: recorded with them
    model = build_model(args.seed)
    model.save_pretrained(args.model_dir, safe_serialization=True)
    prompts = torch.randint(
        FIRST_ID, 262, (max(BATCH_SIZES), PROMPT_LEN), generator=torch.Generator().manual_seed(args.seed)
    )
    cases = []
    for batch_size in BATCH_SIZES:
        for use_cache in (True, False):
            cases.append(time_case(model, prompts[:batch_size], use_cache, args.repeats, args.max_case_seconds))
    by_key = {(case["batch_size"], case["use_cache"]): case for case in cases}
    reference = by_key[(1, True)]["generated"]
    agreement = {
        f"batch{batch}_uncached_tokens_equal_cached": bool(
            torch.equal(by_key[(batch, False)]["generated"], by_key[(batch, True)]["generated"])
        )
        for batch in BATCH_SIZES
    }
    agreement["batch8_row0_cached_tokens_equal_batch1_cached"] = bool(
        torch.equal(by_key[(8, True)]["generated"][:1], reference)
    )
    for case in cases:
        del case["generated"]
    results = {
        "what": "perceiver-io 0.11.0's own PerceiverCausalLanguageModel.generate (transformers 4.28), greedy, "
        "num_latents=1, prompt 1024 tokens, 200 new tokens",
        "model": {
            "config": model.config.model_config,
            "num_parameters": sum(param.numel() for param in model.parameters()),
            "seed": args.seed,
            "saved_to": str(args.model_dir),
            "saved_with": "save_pretrained(safe_serialization=True)",
        },
        "prompt": {
            "recipe": f"torch.randint({FIRST_ID}, 262, ({max(BATCH_SIZES)}, {PROMPT_LEN}), "
            f"generator=torch.Generator().manual_seed({args.seed})); batch 1 = row 0; no attention mask "
            "(generate makes an all-ones one)",
            "batch1_prompt_ids": prompts[0].tolist(),
        },
        "generate_call": "generate(input_ids, num_latents=1, max_new_tokens=200, do_sample=False, num_beams=1, "
        "use_cache=..., pad_token_id=0, eos_token_id=None)",
        "threads": torch.get_num_threads(),
        "machine": {
            "platform": platform.platform(),
            "cpu_count": os.cpu_count(),
            "load_average_1min_before_and_after": [round(load_before, 2), round(os.getloadavg()[0], 2)],
        },
        "versions": {"python": platform.python_version(), **{name: metadata.version(name) for name in PACKAGES}},
        "cases": cases,
        "cached_speedup": {f"batch{batch}": speedup(by_key, batch) for batch in BATCH_SIZES},
        "agreement": agreement,
        "batch1_cached_generated_ids": reference[0].tolist(),
    }
    args.results.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(results, indent=1)
    text = re.sub(r"\[[^\[\]{}]*\]", lambda match: json.dumps(json.loads(match.group(0))), text)  # lists on one line
    args.results.write_text(text + "\n")
    for case in cases:
        print(
            f"batch {case['batch_size']} use_cache={case['use_cache']}: {case['median_seconds']} s "
            f"({case['tokens_per_second']} tokens/s, {case['runs']} runs)"
        )


if __name__ == "__main__":
    main(sys.argv[1:])
