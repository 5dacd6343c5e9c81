"""Two CPU processes (DDP over gloo, started by `accelerate launch` with the shipped config) train the same model
as one process with the same global batch: 2 processes x 2 examples vs 1 process x 4 examples.

The masks of an example depend only on (seed, epoch, its tokens) and accelerate's seedable sampler gives both
runs the same data order, so the two runs must agree to float32 reduction-order noise.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from test_train_run import logged_losses, max_weight_difference, short_run_args

REPO = Path(__file__).resolve().parents[1]
ACCELERATE_CONFIG = REPO / "configs" / "accelerate" / "cpu-2proc.yaml"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_two_processes_match_one_process_with_the_same_global_batch(tmp_path):
    pytest.importorskip("accelerate")
    from perceiver_hf.training.run import run_from_argv

    single = tmp_path / "single"
    run_from_argv(short_run_args(single, "--save_strategy", "no"))

    double = tmp_path / "double"
    command = [
        sys.executable, "-m", "accelerate.commands.launch", "--config_file", str(ACCELERATE_CONFIG),
        "--main_process_port", str(free_port()), "-m", "perceiver_hf.cli", "train",
        *short_run_args(double, "--save_strategy", "no", "--per_device_train_batch_size", "2", "--use_cpu"),
    ]  # fmt: skip
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    result = subprocess.run(command, capture_output=True, text=True, env=env, timeout=180, cwd=tmp_path)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "2 process(es), global batch 4" in result.stdout + result.stderr

    assert logged_losses(double) == pytest.approx(logged_losses(single), abs=1e-5)
    assert max_weight_difference(double, single) < 1e-5
