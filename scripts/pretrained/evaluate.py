"""Evaluate a byte-level Perceiver IO MLM: held-out masked-byte accuracy (whole-word masking) and span filling.

    python scripts/pretrained/evaluate.py                                   # the shipped perceiver-bytes-small
    python scripts/pretrained/evaluate.py --model outputs/perceiver-bytes-small --json results.json

Accuracy: `perceiver_hf.pretrained.evaluation.masked_byte_accuracy` on the held-out split written by
prepare_corpus.py (15% of words masked, all their bytes replaced by [MASK], masks fixed by --seed).
Span filling: each example's span is replaced by one [MASK] per byte and filled greedily with the
"fill-mask-spans" pipeline (one forward pass), as in DeepMind's masked-language-modelling notebook.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

import torch
from transformers import AutoModelForMaskedLM, AutoTokenizer, pipeline

import perceiver_hf  # noqa: F401  (registers the perceiver_io model type and the fill-mask-spans pipeline)
from perceiver_hf.pipelines import mask_span
from perceiver_hf.pretrained import pretrained_model_path
from perceiver_hf.pretrained.evaluation import masked_byte_accuracy

DEFAULT_HELDOUT = Path(__file__).resolve().parent / "data" / "heldout.txt"
# (sentence, span to mask): the notebook's sentence, then sentences written for this evaluation
EXAMPLES: List[Tuple[str, str]] = [
    ("This is an incomplete sentence where some words are missing.", " missing"),
    ("This is an incomplete sentence where some words are missing.", " words"),
    ("The function returns a list of strings.", " list"),
    ("This module provides access to the operating system.", " module"),
    ("If the file does not exist, an exception is raised.", " exception"),
    ("The default value is None.", " default"),
    ("Python is an easy to learn, powerful programming language.", " programming"),
]


def fill_examples(model: Any, tokenizer: Any, examples: List[Tuple[str, str]]) -> List[Dict[str, str]]:
    """Mask each example's span, fill it greedily and return sentence, span, masked text and prediction."""
    fill = pipeline("fill-mask-spans", model=model, tokenizer=tokenizer)
    masked = [mask_span(sentence, span) for sentence, span in examples]
    outputs = fill(masked)
    return [
        {"sentence": sentence, "span": span, "prediction": output["spans"][0]["text"], "filled": output["sequence"]}
        for (sentence, span), output in zip(examples, outputs)
    ]


def display_path(path: Any) -> str:
    """`path` relative to the current directory when it lies inside it (so results files do not name a machine)."""
    resolved = Path(path).resolve()
    return str(resolved.relative_to(Path.cwd())) if resolved.is_relative_to(Path.cwd()) else str(path)


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default=None, help="model folder (default: the shipped perceiver-bytes-small)")
    parser.add_argument("--heldout", type=Path, default=DEFAULT_HELDOUT, help="held-out text (prepare_corpus.py)")
    parser.add_argument("--seed", type=int, default=0, help="masking seed")
    parser.add_argument("--mlm-probability", type=float, default=0.15, help="share of words masked")
    parser.add_argument("--max-chars", type=int, default=None, help="evaluate only the first N characters")
    parser.add_argument("--json", type=Path, default=None, help="also write the results to this JSON file")
    args = parser.parse_args(argv)

    if not args.heldout.is_file():
        print(f"error: no held-out text at {args.heldout}; run scripts/pretrained/prepare_corpus.py first.", file=sys.stderr)
        return 2
    model_path = args.model or str(pretrained_model_path())
    torch.manual_seed(0)
    model = AutoModelForMaskedLM.from_pretrained(model_path)
    tokenizer = AutoTokenizer.from_pretrained(model_path)
    text = args.heldout.read_text(encoding="utf-8")[: args.max_chars]

    result = masked_byte_accuracy(model, tokenizer, text, mlm_probability=args.mlm_probability, seed=args.seed)
    examples = fill_examples(model, tokenizer, EXAMPLES)
    report = {
        "model": display_path(model_path),
        "heldout_file": display_path(args.heldout),
        "heldout_chars": len(text),
        "seed": args.seed,
        "mlm_probability": args.mlm_probability,
        "masked_bytes": result.num_masked,
        "chunks": result.num_chunks,
        "masked_byte_accuracy": round(result.accuracy, 4),
        "masked_byte_nll": round(result.nll, 4),
        "examples": examples,
    }
    print(f"held-out masked-byte accuracy (whole-word, p={args.mlm_probability}, seed {args.seed}): "
          f"{result.accuracy:.2%} over {result.num_masked} masked bytes; nll {result.nll:.3f} nats/byte")
    for example in examples:
        print(f"  {example['sentence']!r} mask {example['span']!r} -> {example['prediction']!r}")
    if args.json:
        args.json.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
