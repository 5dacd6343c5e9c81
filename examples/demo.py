"""perceiver-hf in one minute: build a small byte-level Perceiver IO, save it, load it back, fill masks.

The model is tiny and starts from random weights, so the script first lets it memorise one sentence
(150 steps, seconds on a CPU); the fill-mask results then show that saving, loading and the
pipelines carry what it learned.

    python examples/demo.py [--output-dir DIR] [--steps N]
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import torch
from transformers import AutoModelForMaskedLM, AutoTokenizer, pipeline

from perceiver_hf import PerceiverByteTokenizer, PerceiverForMaskedLM
from perceiver_hf.pipelines import FILL_MASK_SPANS_TASK  # the span filler (one [MASK] per byte)
from perceiver_hf.training.presets import tiny

SENTENCE = "The quick brown fox jumps over the lazy dog."


def memorise(model: PerceiverForMaskedLM, tokenizer: PerceiverByteTokenizer, text: str, steps: int) -> float:
    """Masked-LM training on one text: each step masks a random 15% of its bytes. Returns the last loss."""
    input_ids = tokenizer([text] * 16, return_tensors="pt")["input_ids"]  # [16, L]
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    model.train()
    for _ in range(steps):
        masked = torch.rand(input_ids.shape) < 0.15  # [16, L]
        labels = input_ids.masked_fill(~masked, -100)
        loss = model(input_ids.masked_fill(masked, tokenizer.mask_token_id), labels=labels).loss
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return loss.item()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output-dir", type=Path, help="where to save the model (default: a temporary folder)")
    parser.add_argument("--steps", type=int, default=150, help="training steps on the demo sentence")
    args = parser.parse_args()
    torch.manual_seed(0)

    model = PerceiverForMaskedLM(tiny(max_seq_len=64))  # the `--preset tiny` of perceiver-hf train
    tokenizer = PerceiverByteTokenizer(model_max_length=model.config.max_seq_len)
    print(f"Built PerceiverForMaskedLM with {model.num_parameters():,} parameters; training on {SENTENCE!r}")
    print(f"  final training loss after {args.steps} steps: {memorise(model, tokenizer, SENTENCE, args.steps):.3f}")

    with tempfile.TemporaryDirectory() as temporary:
        folder = args.output_dir or Path(temporary) / "perceiver-demo"
        model.save_pretrained(folder)
        tokenizer.save_pretrained(folder)
        print(f"Saved to {folder}: {sorted(p.name for p in Path(folder).iterdir())}")

        loaded = AutoModelForMaskedLM.from_pretrained(folder)  # resolves to PerceiverForMaskedLM
        loaded_tokenizer = AutoTokenizer.from_pretrained(folder)
        print(f"Loaded back: {type(loaded).__name__}, {type(loaded_tokenizer).__name__}")

        fill_mask = pipeline("fill-mask", model=loaded, tokenizer=loaded_tokenizer)
        text = "The quick brown [MASK]ox jumps over the lazy dog."
        print(f"fill-mask {text!r}:")
        for candidate in fill_mask(text, top_k=3):
            print(f"  {candidate['token_str']!r}  score {candidate['score']:.3f}")

        fill_spans = pipeline(FILL_MASK_SPANS_TASK, model=loaded, tokenizer=loaded_tokenizer)
        text = "The quick brown fox jumps over the [MASK][MASK][MASK][MASK] dog."
        print(f"{FILL_MASK_SPANS_TASK} {text!r}:\n  {fill_spans(text)['sequence']!r}")


if __name__ == "__main__":
    main()
