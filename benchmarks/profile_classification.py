"""Per-op profile of a sequence classification fine-tuning step, ours vs transformers', forward and backward apart.

    OMP_NUM_THREADS=1 python benchmarks/profile_classification.py --size byte --seq_len 512 --batch_size 2

The same pair of models as benchmarks/train_classification.py (transformers' `PerceiverForSequenceClassification`
with random weights and ours converted from it). Each round profiles one step of each model (torch.profiler, the
forward and the backward in separate profiles), the order alternating; an op's time is its self CPU time, the
minimum over rounds (the profiler measures wall time, and on a shared machine the minimum is the least disturbed).
Ops are grouped: "matmul" is every matrix product (linears, the attention's batched products, SDPA's kernel),
"rest" everything else. Prints one Markdown table per phase, its largest ops first, and the matmul share.
"""

from __future__ import annotations

import argparse
import collections

import torch
from torch.profiler import ProfilerActivity, profile
from train_classification import SIZES, build_pair, make_batch

MATMUL_OPS = (
    "aten::mm", "aten::addmm", "aten::bmm", "mkldnn::_linear_pointwise",
    "aten::_scaled_dot_product_flash_attention_for_cpu", "aten::_scaled_dot_product_flash_attention_for_cpu_backward",
)
"""The ops that are matrix products (self time only, so a wrapper such as aten::linear is never counted twice)."""

Timings = dict[tuple[str, str, str], float]


def profile_step(model: torch.nn.Module, batch: dict[str, torch.Tensor]) -> dict[str, dict[str, tuple[float, int]]]:
    """{"forward" | "backward": {op: (self CPU ms, calls)}} of one step of `model` on `batch`."""
    phases = {}
    with profile(activities=[ProfilerActivity.CPU]) as forward:
        loss = model(**batch).loss
    with profile(activities=[ProfilerActivity.CPU]) as backward:
        loss.backward()
    model.zero_grad(set_to_none=True)
    for phase, prof in (("forward", forward), ("backward", backward)):
        phases[phase] = {event.key: (event.self_cpu_time_total / 1e3, event.count) for event in prof.key_averages()}
    return phases


def minimum_profiles(
    models: dict[str, torch.nn.Module], batch: dict[str, torch.Tensor], rounds: int
) -> tuple[Timings, dict]:
    """Per (model, phase, op) the minimum self CPU ms over `rounds` interleaved rounds, and the call counts."""
    best: Timings = collections.defaultdict(lambda: float("inf"))
    calls: dict[tuple[str, str, str], int] = {}
    for model in models.values():  # warm-up
        profile_step(model, batch)
    for round_index in range(rounds):
        order = list(models) if round_index % 2 else list(reversed(models))
        for name in order:
            for phase, ops in profile_step(models[name], batch).items():
                for op, (ms, count) in ops.items():
                    best[(name, phase, op)] = min(best[(name, phase, op)], ms)
                    calls[(name, phase, op)] = count
    return best, calls


def print_phase(phase: str, best: Timings, calls: dict, names: list[str], rows: int) -> None:
    """A Markdown table of the `rows` largest ops of `phase`, then the totals and the matmul share."""
    ops = sorted(
        {op for (_, p, op) in best if p == phase}, key=lambda op: -max(best.get((n, phase, op), 0) for n in names)
    )
    print(f"\n{phase}\n")
    print("| op | " + " | ".join(f"{n} ms (calls)" for n in names) + " |")
    print("|---|" + "---|" * len(names))
    for op in ops[:rows]:
        cells = [f"{best.get((n, phase, op), 0.0):.1f} ({calls.get((n, phase, op), 0)})" for n in names]
        print(f"| {op} | " + " | ".join(cells) + " |")
    totals = {n: sum(ms for (m, p, _), ms in best.items() if m == n and p == phase) for n in names}
    matmul = {n: sum(best.get((n, phase, op), 0.0) for op in MATMUL_OPS) for n in names}
    print("| **all ops** | " + " | ".join(f"{totals[n]:.1f}" for n in names) + " |")
    print("| **matmul share** | " + " | ".join(f"{matmul[n] / totals[n]:.0%}" for n in names) + " |")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size", choices=sorted(SIZES), default="byte")
    parser.add_argument("--seq_len", type=int, default=512)
    parser.add_argument("--batch_size", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--rows", type=int, default=12, help="ops shown per phase")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    theirs, ours = build_pair(args.size, args.seq_len, num_labels=4)
    models = {"transformers": theirs, "ours": ours}
    batch = make_batch(args.batch_size, args.seq_len, num_labels=4, padded=False)
    best, calls = minimum_profiles(models, batch, args.rounds)
    for phase in ("forward", "backward"):
        print_phase(phase, best, calls, list(models), args.rows)


if __name__ == "__main__":
    main()
