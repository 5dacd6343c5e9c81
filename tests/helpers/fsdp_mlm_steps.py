"""A few masked-LM training steps of the tiny preset, in one process or FSDP2-sharded over a gloo group.

    cd tests && python -m helpers.fsdp_mlm_steps OUT.pt                   # one process, global batch 4
    cd tests && python -m torch.distributed.run --nproc_per_node 2 -m helpers.fsdp_mlm_steps OUT.pt  # 2 x 2

Every process draws the same global batch (seeded), keeps its own rows, and scales its loss so that FSDP's
gradient average equals the single process's loss over the whole batch: sum of its masked-token losses /
masked tokens in the global batch x world size. OUT.pt gets the per-step global losses and the full
(unsharded) final weights; the sharded run also records the number of FSDP units and a parameter's placement.
"""

from __future__ import annotations

import sys
from pathlib import Path

import torch
import torch.distributed as dist

REPO = Path(__file__).resolve().parents[2]
STEPS, GLOBAL_BATCH, SEQ_LEN, MASK_ID = 6, 4, 64, 3


def global_batch(step: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Input ids with 15% of positions masked, and labels (-100 where not masked): [GLOBAL_BATCH, SEQ_LEN] x 2."""
    generator = torch.Generator().manual_seed(1000 + step)
    ids = torch.randint(6, 262, (GLOBAL_BATCH, SEQ_LEN), generator=generator)
    masked = torch.rand(GLOBAL_BATCH, SEQ_LEN, generator=generator) < 0.15
    return ids.masked_fill(masked, MASK_ID), ids.masked_fill(~masked, -100)


def main(out: str) -> None:
    from torch.distributed.checkpoint.state_dict import StateDictOptions, get_model_state_dict

    from perceiver_hf import PerceiverForMaskedLM
    from perceiver_hf.training.fsdp import fsdp_units_from_accelerate_config, shard_model
    from perceiver_hf.training.presets import tiny

    distributed = "RANK" in __import__("os").environ
    if distributed:
        dist.init_process_group("gloo")
    rank, world = (dist.get_rank(), dist.get_world_size()) if distributed else (0, 1)
    torch.manual_seed(3)
    model = PerceiverForMaskedLM(tiny(max_seq_len=SEQ_LEN))
    info = {}
    if distributed:
        units = fsdp_units_from_accelerate_config(REPO / "configs" / "accelerate" / "fsdp.yaml")
        shard_model(model, units)
        info["units"] = sum(type(m).__name__.startswith("FSDP") for m in model.modules())
        info["placement"] = str(next(model.parameters()).placements)
    optimiser = torch.optim.AdamW(model.parameters(), lr=1e-3)
    rows = slice(rank * GLOBAL_BATCH // world, (rank + 1) * GLOBAL_BATCH // world)
    losses = []
    for step in range(STEPS):
        ids, labels = global_batch(step)
        items = int((labels != -100).sum())
        loss = model(ids[rows], labels=labels[rows], num_items_in_batch=items).loss * world
        loss.backward()
        optimiser.step()
        optimiser.zero_grad()
        total = loss.detach() / world
        if distributed:
            dist.all_reduce(total)
        losses.append(total.item())
    weights = get_model_state_dict(model, options=StateDictOptions(full_state_dict=True, cpu_offload=True))
    if rank == 0:
        torch.save({"losses": losses, "weights": weights, **info}, out)
    if distributed:
        dist.destroy_process_group()


if __name__ == "__main__":
    main(sys.argv[1])
