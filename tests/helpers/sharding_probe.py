"""`perceiver-hf train ARGS...` with a callback that records, after every step, how this process holds the weights.

    accelerate launch --config_file CONFIG -m helpers.sharding_probe RECORD_PREFIX ARGS...

Each process writes RECORD_PREFIX-rank<R>.json: per step, the number of parameters, how many are DTensors
sharded on dim 0, and the elements this process holds against the elements of the whole model.
"""

from __future__ import annotations

import json
import os
import sys

from torch.distributed.tensor import DTensor, Shard
from transformers import TrainerCallback


class ShardingProbe(TrainerCallback):
    """Records the parameters' placement and local size after each optimizer step."""

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix
        self.steps: list[dict[str, int]] = []

    def on_step_end(self, args, state, control, model=None, **kwargs):
        parameters = list(model.parameters())
        sharded = [p for p in parameters if isinstance(p, DTensor) and p.placements == (Shard(0),)]
        self.steps.append({
            "parameters": len(parameters),
            "sharded": len(sharded),
            "local": sum(p.to_local().numel() if isinstance(p, DTensor) else p.numel() for p in parameters),
            "total": sum(p.numel() for p in parameters),
        })  # fmt: skip

    def on_train_end(self, args, state, control, **kwargs):
        rank = os.environ.get("RANK", "0")
        with open(f"{self.prefix}-rank{rank}.json", "w", encoding="utf-8") as file:
            json.dump(self.steps, file)


def main(prefix: str, argv: list[str]) -> None:
    from perceiver_hf.training.run import run_from_argv

    run_from_argv(argv, callbacks=[ShardingProbe(prefix)])


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2:])
