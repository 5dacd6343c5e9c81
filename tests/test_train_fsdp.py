"""FSDP2 (torch's `fully_shard`, sharded as configs/accelerate/fsdp.yaml says) on 2 CPU processes over gloo trains
the tiny masked LM exactly like one process with the same global batch (2 x 2 examples vs 1 x 4).

accelerate 1.16 does not apply its FSDP plugin on CPU (with `--use_cpu` it keeps DDP; docs/training.md,
"FSDP2 on CPU"), so `perceiver-hf train` cannot be the sharded run here: tests/helpers/fsdp_mlm_steps.py runs the
steps and `perceiver_hf.training.fsdp.shard_model` shards with the units the accelerate config lists.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from test_train_distributed import free_port

TESTS = Path(__file__).resolve().parent
SRC = TESTS.parent / "src"


def run_steps(out: Path, processes: int) -> dict:
    launcher = ["-m", "torch.distributed.run", "--nproc_per_node", str(processes), "--master_port", str(free_port())]
    command = [sys.executable, *(launcher if processes > 1 else []), "-m", "helpers.fsdp_mlm_steps", str(out)]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": os.pathsep.join([str(SRC), str(TESTS)])}
    result = subprocess.run(command, capture_output=True, text=True, env=env, timeout=120, cwd=TESTS)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return torch.load(out)


def test_fsdp2_on_two_cpu_processes_matches_one_process(tmp_path):
    single = run_steps(tmp_path / "single.pt", 1)
    sharded = run_steps(tmp_path / "sharded.pt", 2)

    # the tiny preset has one encoder and one decoder cross-attention and two self-attention layers: 4 units + root
    assert sharded["units"] == 5
    assert "Shard(dim=0)" in sharded["placement"]
    assert sharded["losses"] == pytest.approx(single["losses"], abs=1e-5)
    assert sharded["weights"].keys() == single["weights"].keys()
    # key biases excepted: their gradient is zero in exact arithmetic (see test_train_run.max_weight_difference)
    difference = max(
        (sharded["weights"][k] - single["weights"][k]).abs().max().item()
        for k in single["weights"]
        if not k.endswith("k_proj.bias")
    )
    assert difference < 1e-5
