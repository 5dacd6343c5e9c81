"""perceiver-hf in one minute: load a trained Perceiver IO with transformers' Auto classes and fill masked words.

By default the model is `perceiver-bytes-small`, the byte-level model shipped inside the package (trained with
`perceiver-hf train` on the Python documentation), so this runs offline right after `pip install`. Any other
model folder or Hub id works too, e.g. DeepMind's converted checkpoint (`perceiver-hf convert haiku ...`).

    python examples/demo.py [--model FOLDER_OR_HUB_ID] [--output-dir DIR] [SENTENCE WORD ...]

Each masked word becomes one [MASK] per UTF-8 byte (with the space before it); the "fill-mask-spans" pipeline
fills all of them in one forward pass that decodes only the masked positions.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import List, Sequence, Tuple

from transformers import AutoModelForMaskedLM, AutoTokenizer, pipeline
from transformers.utils import logging

import perceiver_hf  # registers the perceiver_io model type, its tokenizer and the fill-mask-spans pipeline
from perceiver_hf.pipelines import FILL_MASK_SPANS_TASK, mask_span

# (sentence, word to mask): DeepMind's notebook sentence, then sentences in the style of the training text
EXAMPLES: List[Tuple[str, str]] = [
    ("This is an incomplete sentence where some words are missing.", " missing"),
    ("This is an incomplete sentence where some words are missing.", " words"),
    ("The function returns a list of strings.", " list"),
    ("If the file does not exist, an exception is raised.", " exception"),
    ("The default value is None.", " default"),
]


def parse_examples(pairs: Sequence[str]) -> List[Tuple[str, str]]:
    """`SENTENCE WORD SENTENCE WORD ...` -> [(sentence, " word")]; the word must occur in its sentence."""
    if len(pairs) % 2:
        raise SystemExit("error: give sentences and words in pairs: SENTENCE WORD [SENTENCE WORD ...]")
    examples = []
    for sentence, word in zip(pairs[::2], pairs[1::2]):
        span = word if sentence.startswith(word) else " " + word.lstrip()
        if span not in sentence:
            raise SystemExit(f"error: {word!r} does not occur in {sentence!r}; name a word of the sentence.")
        examples.append((sentence, span))
    return examples


def one_letter_masked(sentence: str, span: str) -> str:
    """`sentence` with one letter of the word `span` as [MASK]s (its second, or its only one), one per UTF-8 byte."""
    word = span.lstrip()
    start = sentence.index(span) + len(span) - len(word) + (1 if len(word) > 1 else 0)
    letter = sentence[start]
    return sentence[:start] + "[MASK]" * len(letter.encode()) + sentence[start + 1 :]


def copy_model_card(source: Path, output_dir: Path) -> None:
    """Give `output_dir` the model card (README.md) of the source folder, if it has one (written atomically)."""
    card = source / "README.md"
    if card.is_file():
        partial = output_dir / ".README.md.partial"
        partial.write_bytes(card.read_bytes())
        os.replace(partial, output_dir / "README.md")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=None, help="model folder or Hub id (default: the shipped perceiver-bytes-small)")
    parser.add_argument(
        "--output-dir", type=Path, default=None,
        help="also save the model and tokenizer there (save_pretrained) and fill masks with the reloaded copy",
    )
    parser.add_argument("pairs", nargs="*", metavar="SENTENCE WORD", help="sentences and the word to mask in each")
    args = parser.parse_args()
    examples = parse_examples(args.pairs) if args.pairs else EXAMPLES

    path = args.model or str(perceiver_hf.pretrained_model_path())
    logging.disable_progress_bar()  # loading a 16 MB model takes a fraction of a second: no progress bars
    model = AutoModelForMaskedLM.from_pretrained(path)  # resolves to perceiver_hf.PerceiverForMaskedLM
    tokenizer = AutoTokenizer.from_pretrained(path)  # PerceiverByteTokenizer: UTF-8 byte + 6, [MASK] = 3
    name = args.model or perceiver_hf.DEFAULT_MODEL
    print(f"{name}: {type(model).__name__}, {model.num_parameters():,} parameters, {type(tokenizer).__name__}")
    if args.output_dir:
        model.save_pretrained(args.output_dir)
        tokenizer.save_pretrained(args.output_dir)
        copy_model_card(Path(path), args.output_dir)
        model = AutoModelForMaskedLM.from_pretrained(args.output_dir)
        tokenizer = AutoTokenizer.from_pretrained(args.output_dir)
        print(f"saved to {args.output_dir} and loaded back: {sorted(p.name for p in args.output_dir.iterdir())}")

    fill = pipeline(FILL_MASK_SPANS_TASK, model=model, tokenizer=tokenizer)
    outputs = fill([mask_span(sentence, span) for sentence, span in examples])
    for (sentence, span), output in zip(examples, outputs):
        (predicted,) = output["spans"]
        expected, got = span.encode(), bytes(predicted["text"], "utf-8", "replace")
        correct = sum(a == b for a, b in zip(expected, got))
        word = span.lstrip()  # shown as one _ per byte, after the space it may start with
        print(f"\n{sentence.replace(span, span[: len(span) - len(word)] + '_' * len(word.encode()), 1)}")
        print(f"  masked {span!r} -> predicted {predicted['text']!r} ({correct} of {len(expected)} bytes right)")
        print(f"  {output['sequence']}")

    fill_mask = pipeline("fill-mask", model=model, tokenizer=tokenizer)  # transformers' own: top-k per [MASK]
    text = one_letter_masked(*examples[0])
    candidates = ", ".join(f"{c['token_str']!r} {c['score']:.2f}" for c in fill_mask(text, top_k=3))
    print(f"\nfill-mask {text!r}: {candidates}")


if __name__ == "__main__":
    main()
