"""Training-step time when the decoder queries only the masked positions vs every position.

    OMP_NUM_THREADS=1 python benchmarks/train_decode_only.py --preset language_perceiver
    OMP_NUM_THREADS=1 python benchmarks/train_decode_only.py --preset perceiver_io_base --vocab_size 32000

A step is forward + backward + AdamW update of `PerceiverForMaskedLM` on one batch. Both variants see the same
input ids and the same masked positions (exactly round(mlm_probability x L) per sequence) and compute the same
loss; "decode-only" passes `output_positions` [B, K] (what `PerceiverMLMCollator` does by default), "all
positions" passes labels [B, L] with -100 at unmasked positions and decodes all L. Token ids are random: the
time does not depend on the text. Times are CPU seconds of this process; the two variants alternate step by
step on one model, so a machine whose load changes during the run affects both alike; the ratio is the
median of the per-pair ratios. Prints one summary line (docs/training.md quotes it).
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from perceiver_hf.modeling_perceiver import PerceiverForMaskedLM
from perceiver_hf.training.collators import select_output_positions
from perceiver_hf.training.presets import PRESETS, build_preset


def make_batches(
    batch_size: int, seq_len: int, vocab_size: int, mlm_probability: float, seed: int = 0
) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor]]:
    """(decode-only batch, all-positions batch) with identical inputs and masked positions."""
    generator = torch.Generator().manual_seed(seed)
    input_ids = torch.randint(6, vocab_size, (batch_size, seq_len), generator=generator)  # [B, L]
    num_masked = max(1, round(mlm_probability * seq_len))
    positions = torch.rand(batch_size, seq_len, generator=generator).argsort(dim=1)[:, :num_masked]  # [B, K]
    labels = torch.full_like(input_ids, -100).scatter(1, positions, input_ids.gather(1, positions))  # [B, L]
    masked_inputs = input_ids.scatter(1, positions, 3)  # [MASK]
    attention_mask = torch.ones_like(input_ids)
    output_positions, compact_labels = select_output_positions(labels)  # [B, K]
    decode_only = {
        "input_ids": masked_inputs,
        "attention_mask": attention_mask,
        "output_positions": output_positions,
        "labels": compact_labels,
    }
    everything = {"input_ids": masked_inputs, "attention_mask": attention_mask, "labels": labels}
    return decode_only, everything


def timed_step(model: PerceiverForMaskedLM, optimizer: torch.optim.Optimizer, batch: dict[str, torch.Tensor]) -> float:
    """CPU seconds this process spent on one training step.

    CPU time rather than wall-clock time: on a shared machine other processes stretch the wall clock but not
    this process's CPU time (with OMP_NUM_THREADS=1 the two agree on an idle machine).
    """
    start = time.process_time()
    loss = model(**batch).loss
    loss.backward()
    optimizer.step()
    optimizer.zero_grad(set_to_none=True)
    return time.process_time() - start


def parameter_count(config) -> int:
    """Number of parameters of `PerceiverForMaskedLM(config)` (built on the meta device: no memory)."""
    with torch.device("meta"):
        return PerceiverForMaskedLM(config).num_parameters()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--preset", default="language_perceiver", choices=list(PRESETS))
    parser.add_argument("--vocab_size", type=int, default=None, help="default: the preset's")
    parser.add_argument("--seq_len", type=int, default=None, help="default: the preset's max_seq_len")
    parser.add_argument("--batch_size", type=int, default=1)
    parser.add_argument("--mlm_probability", type=float, default=0.15)
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--warmup", type=int, default=1)
    args = parser.parse_args()

    overrides = {"vocab_size": args.vocab_size} if args.vocab_size else {}
    config = build_preset(args.preset, **overrides)
    seq_len = args.seq_len or config.max_seq_len
    decode_only, everything = make_batches(args.batch_size, seq_len, config.vocab_size, args.mlm_probability)
    num_slots = decode_only["output_positions"].shape[1]

    torch.manual_seed(0)
    model = PerceiverForMaskedLM(config).train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-5)
    for _ in range(args.warmup):
        timed_step(model, optimizer, decode_only)
        timed_step(model, optimizer, everything)
    pairs = [(timed_step(model, optimizer, decode_only), timed_step(model, optimizer, everything)) for _ in range(args.steps)]
    for index, (sparse, dense) in enumerate(pairs):
        print(f"  step {index}: decode-only {sparse:.3f} s, all positions {dense:.3f} s, ratio {dense / sparse:.2f}")

    sparse = statistics.median(p[0] for p in pairs)
    dense = statistics.median(p[1] for p in pairs)
    ratio = statistics.median(d / s for s, d in pairs)
    print(
        f"{args.preset} ({parameter_count(config):,} parameters, vocab {config.vocab_size}), batch {args.batch_size} "
        f"x {seq_len} tokens, {num_slots} masked per sequence: training step {sparse:.3g} s decode-only vs "
        f"{dense:.3g} s all positions (CPU time) -> {ratio:.2f}x faster (median of {args.steps}; torch {torch.__version__}, "
        f"{torch.get_num_threads()} CPU thread(s))"
    )


if __name__ == "__main__":
    main()
