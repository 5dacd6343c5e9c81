"""Batch-encoding speed: PerceiverByteTokenizer vs transformers' PerceiverTokenizer (pure Python).

Run: ``python benchmarks/tokenizer_speed.py`` (``--help`` for options). Encodes the same batch of 1000
English/Unicode sentences with both tokenizers (``padding=True``, no special tokens), returning torch tensors,
numpy arrays and Python lists in turn; checks that both give the same ids and masks; prints the median wall time
of repeated runs (interleaved, so load from other processes hits both alike) and the speed-up.
"""

from __future__ import annotations

import argparse
import functools
import random
import statistics
import time
from collections.abc import Callable

import numpy as np

WORDS = (
    "the quick brown fox jumps over lazy dog while a café owner counts coins on wooden counter by window "
    "Perceiver IO reads raw bytes and predicts masked spans naïve résumé façade Zürich São Paulo "
    "中文 日本語 한국어 Ελληνικά русский العربية हिन्दी 😀 🚀 👩‍👩‍👧 €100 ∑∫√∞"
).split()


def make_sentences(num_sentences: int, seed: int = 0) -> list[str]:
    """Deterministic sentences of 5 to 60 words drawn from English and non-Latin words, emoji and symbols."""
    rng = random.Random(seed)
    return [" ".join(rng.choices(WORDS, k=rng.randint(5, 60))) + "." for _ in range(num_sentences)]


def seconds(run: Callable[[], object]) -> float:
    start = time.perf_counter()
    run()
    return time.perf_counter() - start


def interleaved_medians(runs: dict[str, Callable[[], object]], calls_per_round: dict[str, int], rounds: int) -> dict:
    """Median seconds of each callable, timed in alternating rounds so that load from other processes on a
    shared machine affects all alike. One warm-up call each."""
    times: dict[str, list[float]] = {name: [] for name in runs}
    for run in runs.values():
        run()
    for _ in range(rounds):
        for name, run in runs.items():
            times[name].extend(seconds(run) for _ in range(calls_per_round[name]))
    return {name: statistics.median(values) for name, values in times.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--num-sentences", type=int, default=1000, help="batch size (default 1000)")
    parser.add_argument("--rounds", type=int, default=7, help="timed rounds (default 7)")
    parser.add_argument("--fast-per-round", type=int, default=5, help="fast runs per round (default 5)")
    args = parser.parse_args()

    from transformers.models.perceiver import PerceiverTokenizer

    from perceiver_hf.tokenization_perceiver import PerceiverByteTokenizer

    sentences = make_sentences(args.num_sentences)
    tokenizers = {
        "ours": PerceiverByteTokenizer(),
        "rust": PerceiverByteTokenizer(fast_batch_encoding=False),
        "transformers": PerceiverTokenizer(),
    }
    calls_per_round = {"ours": args.fast_per_round, "rust": 1, "transformers": 1}
    num_bytes = sum(len(s.encode("utf-8")) for s in sentences)
    print(f"batch: {len(sentences)} sentences, {num_bytes} UTF-8 bytes; padding=True, no special tokens")
    print(f"median ms of {args.rounds * args.fast_per_round} runs (ours) or {args.rounds} runs (the others):")
    print("  ours = PerceiverByteTokenizer; rust = ours with fast_batch_encoding=False (Rust `tokenizers` pipeline)")
    print("  transformers = transformers' PerceiverTokenizer (pure Python)")
    for return_tensors in ("pt", "np", None):
        kwargs = {"padding": True, "add_special_tokens": False, "return_tensors": return_tensors}
        outputs = {name: tokenizer(sentences, **kwargs) for name, tokenizer in tokenizers.items()}
        reference = outputs["transformers"]
        for output in outputs.values():
            if any(not np.array_equal(np.asarray(output[key]), np.asarray(reference[key])) for key in reference):
                raise SystemExit("The tokenizers disagree on the benchmark batch; the timing would be meaningless.")
        medians = interleaved_medians(
            {name: functools.partial(tokenizer, sentences, **kwargs) for name, tokenizer in tokenizers.items()},
            calls_per_round,
            args.rounds,
        )
        output_kind = {"pt": "torch tensors", "np": "numpy arrays", None: "Python lists"}[return_tensors]
        ms = {name: f"{seconds_ * 1e3:7.2f}" for name, seconds_ in medians.items()}
        print(
            f"return_tensors={return_tensors!r:5} ({output_kind:13}): ours {ms['ours']}, rust {ms['rust']}, "
            f"transformers {ms['transformers']}  ->  speed-up ours/transformers "
            f"{medians['transformers'] / medians['ours']:6.1f}x (rust/transformers "
            f"{medians['transformers'] / medians['rust']:4.1f}x)"
        )


if __name__ == "__main__":
    main()
