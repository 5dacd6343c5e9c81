"""`perceiver-hf train --task causal-lm` on two CPU processes trains like one process with the same global batch
(2 x 2 examples vs 1 x 4): DDP (`accelerate launch` with configs/accelerate/cpu-2proc.yaml) and FSDP2
(configs/accelerate/fsdp-cpu-2proc.yaml, its units switched to Perceiver AR's layers on the command line, as on
GPUs).

The prefix dropout draws from each process's random generator (two processes draw two copies of the same stream,
one process one longer stream), so these runs set --cross_attention_dropout 0; everything else is as the other
tasks' distributed tests: accelerate's seedable sampler gives both runs the same examples in the same order, and
the blocks are full (all but the file's last) and so scored at the same number of tokens each: the mean of the
per-process mean losses (the causal LM takes no `num_items_in_batch`) is then the one-process mean, and the runs
differ by float32 summation order only (a batch holding the short last block would weight its tokens otherwise).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from test_train_distributed import ACCELERATE_CONFIG, free_port
from test_train_fsdp_cli import FSDP_CPU_CONFIG, assert_same_folder_as, assert_sharded, run_sharded
from test_train_run import logged_losses, max_weight_difference

from perceiver_hf import PerceiverForCausalLM

DATA = Path(__file__).parent / "data" / "english"
STEPS = 4
AR_UNITS = ("--fsdp_transformer_layer_cls_to_wrap", "PrefixCrossAttentionLayer,CausalSelfAttentionLayer")


def run_args(output_dir: Path, batch: int) -> list[str]:
    return [
        "--task", "causal-lm", "--preset", "tiny", "--max_latents", "16", "--cross_attention_dropout", "0",
        "--train_file", str(DATA / "declaration_of_independence.txt"), "--validation_split_percentage", "0",
        "--max_seq_len", "64", "--cache_dir", str(output_dir.parent / "cache"), "--output_dir", str(output_dir),
        "--learning_rate", "1e-3", "--seed", "3", "--max_steps", str(STEPS), "--per_device_train_batch_size",
        str(batch), "--logging_steps", "1", "--save_strategy", "no", "--disable_tqdm", "true", "--report_to", "none",
    ]  # fmt: skip


@pytest.fixture(scope="module")
def single(tmp_path_factory) -> Path:
    """One process, 4 examples per step."""
    from perceiver_hf.training.run import run_from_argv

    output_dir = tmp_path_factory.mktemp("causal-single") / "single"
    run_from_argv(run_args(output_dir, 4))
    return output_dir


def test_ddp_on_two_cpu_processes_matches_one_process(single, tmp_path):
    pytest.importorskip("accelerate")
    double = tmp_path / "double"
    command = [
        sys.executable, "-m", "accelerate.commands.launch", "--config_file", str(ACCELERATE_CONFIG),
        "--main_process_port", str(free_port()), "-m", "perceiver_hf.cli", "train", *run_args(double, 2), "--use_cpu",
    ]  # fmt: skip
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    result = subprocess.run(command, capture_output=True, text=True, env=env, timeout=180, cwd=tmp_path)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "2 process(es), global batch 4" in result.stdout + result.stderr

    assert len(logged_losses(single)) == STEPS
    assert logged_losses(double) == pytest.approx(logged_losses(single), abs=1e-5)
    assert max_weight_difference(double, single) < 1e-5


def test_fsdp_on_two_cpu_processes_matches_one_process(single, tmp_path):
    double = tmp_path / "double"
    records = run_sharded(tmp_path, run_args(double, 2), FSDP_CPU_CONFIG, *AR_UNITS)

    assert_sharded(records, steps=STEPS)
    assert logged_losses(double) == pytest.approx(logged_losses(single), abs=1e-5)
    assert max_weight_difference(double, single) < 1e-5
    assert_same_folder_as(double, single, PerceiverForCausalLM)
