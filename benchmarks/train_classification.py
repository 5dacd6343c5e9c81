"""Sequence classification fine-tuning step (forward + backward) of ours vs transformers' Perceiver, same weights.

    OMP_NUM_THREADS=1 python benchmarks/train_classification.py --size byte --seq_len 512 --batch_size 2

transformers' `PerceiverForSequenceClassification` is built at the chosen size with random weights and converted
into ours through the user's path (`convert_transformers_checkpoint`, then `from_pretrained`), so both hold the
same weights and give the same logits (checked and printed). A step is forward + loss + backward + zeroing the
gradients, on the same random byte ids and labels, unpadded and with padding. All four (model, batch) steps
alternate in one run, the order reversing every round; a step's time is the CPU time of this process
(`time.process_time`: on a shared machine other processes stretch the wall clock but not this; with
OMP_NUM_THREADS=1 the two agree on an idle machine). The ratio is the median over rounds of ours / transformers'
in the same round; "fastest" is the ratio of the two models' fastest steps, the least disturbed rounds on a
shared machine. Prints a Markdown table (docs/classification.md quotes it).
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path
from typing import Callable

import torch
from speedbench.models import BYTE_MODEL, SMOKE_SIZES
from transformers import PerceiverConfig as TransformersPerceiverConfig
from transformers import PerceiverForSequenceClassification as TransformersSequenceClassifier

from perceiver_hf import PerceiverForSequenceClassification
from perceiver_hf.convert import convert_transformers_checkpoint

# the shipped perceiver-bytes-small's sizes (src/perceiver_hf/pretrained/perceiver-bytes-small/config.json)
SMALL_SIZES = dict(d_model=256, num_latents=32, d_latents=256, qk_channels=256, v_channels=256,
                   num_self_attends_per_block=6, self_attention_widening_factor=2)
SIZES = {"byte": {}, "small": SMALL_SIZES, "smoke": SMOKE_SIZES}
"""byte: DeepMind's full-size byte model (201M parameters with its MLM decoder); small: the shipped model's
sizes (4M); smoke: a tiny one for CI."""


def build_pair(size: str, max_seq_len: int, num_labels: int, seed: int = 0) -> tuple[torch.nn.Module, torch.nn.Module]:
    """(transformers' classifier, ours) holding the same random weights, in train mode (dropout is 0)."""
    torch.manual_seed(seed)
    config = TransformersPerceiverConfig(
        **{**BYTE_MODEL, **SIZES[size], "max_position_embeddings": max_seq_len, "num_labels": num_labels}
    )
    theirs = TransformersSequenceClassifier(config)
    with tempfile.TemporaryDirectory(prefix="perceiver-classification-") as folder:
        theirs.save_pretrained(Path(folder) / "transformers")
        converted = convert_transformers_checkpoint(Path(folder) / "transformers", Path(folder) / "ours", progress=False)
        ours = PerceiverForSequenceClassification.from_pretrained(converted, dtype=torch.float32)
    return theirs.train(), ours.train()


def make_batch(batch_size: int, seq_len: int, num_labels: int, padded: bool, seed: int = 0) -> dict[str, torch.Tensor]:
    """Random byte ids [B, L] and class labels [B]; with `padded`, every other row's last quarter is padding."""
    generator = torch.Generator().manual_seed(seed)
    input_ids = torch.randint(6, 262, (batch_size, seq_len), generator=generator)
    attention_mask = torch.ones_like(input_ids)
    if padded:
        attention_mask[1::2, seq_len - seq_len // 4:] = 0
    labels = torch.randint(0, num_labels, (batch_size,), generator=generator)
    return {"input_ids": input_ids, "attention_mask": attention_mask, "labels": labels}


def step_function(model: torch.nn.Module, batch: dict[str, torch.Tensor]) -> Callable[[], float]:
    """One fine-tuning step: forward, loss, backward, zero the gradients; returns the loss."""

    def step() -> float:
        loss = model(**batch).loss
        loss.backward()
        model.zero_grad(set_to_none=True)
        return float(loss.detach())

    return step


def agreement(theirs: torch.nn.Module, ours: torch.nn.Module, batch: dict[str, torch.Tensor]) -> float:
    """Max |logits ours - transformers'| on `batch`."""
    with torch.no_grad():
        expected = theirs(inputs=batch["input_ids"], attention_mask=batch["attention_mask"]).logits
        logits = ours(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits
    return float((logits - expected).abs().max())


def main(argv: list[str] | None = None) -> list[dict[str, float]]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size", choices=sorted(SIZES), default="byte")
    parser.add_argument("--seq_len", type=int, default=512)
    parser.add_argument("--batch_size", type=int, default=2)
    parser.add_argument("--num_labels", type=int, default=4)
    parser.add_argument("--repeats", type=int, default=10)
    args = parser.parse_args(argv)

    theirs, ours = build_pair(args.size, args.seq_len, args.num_labels)
    batches = {
        kind: make_batch(args.batch_size, args.seq_len, args.num_labels, padded=kind == "padded")
        for kind in ("unpadded", "padded")
    }
    steps = {
        (kind, name): step_function(model, batch)
        for kind, batch in batches.items()
        for name, model in (("transformers", theirs), ("ours", ours))
    }
    seconds: dict[tuple[str, str], list[float]] = {key: [] for key in steps}
    for round_index in range(args.repeats + 1):  # round 0 warms up
        for key in list(steps) if round_index % 2 else list(reversed(steps)):
            start = time.process_time()
            steps[key]()
            if round_index:
                seconds[key].append(time.process_time() - start)
    print("| size | batch x length | batch | transformers step (s) | ours step (s) | ours / transformers "
          "| fastest steps' ratio | max logit diff |")
    print("|---|---|---|---|---|---|---|---|")
    results = []
    for kind, batch in batches.items():
        theirs_s, ours_s = seconds[(kind, "transformers")], seconds[(kind, "ours")]
        result = {
            "transformers_s": statistics.median(theirs_s),
            "ours_s": statistics.median(ours_s),
            "ratio": statistics.median(o / t for o, t in zip(ours_s, theirs_s)),
            "fastest_ratio": min(ours_s) / min(theirs_s),
            "max_abs_logit_diff": agreement(theirs, ours, batch),
        }
        print(
            f"| {args.size} | {args.batch_size} x {args.seq_len} | {kind} | {result['transformers_s']:.3f} | "
            f"{result['ours_s']:.3f} | {result['ratio']:.2f} | {result['fastest_ratio']:.2f} | "
            f"{result['max_abs_logit_diff']:.1e} |"
        )
        results.append(result)
    return results


if __name__ == "__main__":
    main()
