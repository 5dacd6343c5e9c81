"""FSDP2 as `perceiver_hf.training.fsdp` applies it (transformers' engine, the units configs/accelerate/fsdp.yaml
lists) on 2 CPU processes over gloo trains the tiny masked LM exactly like one process with the same global batch
(2 x 2 examples vs 1 x 4), in a plain training loop (tests/helpers/fsdp_mlm_steps.py); and which runs ask for FSDP.

The same sharding under `perceiver-hf train` (MLM and text classification, `accelerate launch` with the FSDP
configs) is tests/test_train_fsdp_cli.py.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from types import SimpleNamespace

import pytest
import torch

from test_train_distributed import free_port

from perceiver_hf.training.fsdp import (
    DEFAULT_UNITS, FsdpRequest, fsdp_plan, fsdp_request, prepare_cpu_fsdp_run, shard_for_training,
)

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


def _training_args(**fields) -> SimpleNamespace:
    defaults = {"fsdp": None, "fsdp_config": None, "device": torch.device("cpu"), "world_size": 2,
                "save_strategy": "steps", "save_only_model": False}  # fmt: skip
    return SimpleNamespace(**{**defaults, **fields})


@pytest.mark.parametrize(
    "environ, fields, expected",
    [
        ({}, {}, None),
        ({"ACCELERATE_USE_FSDP": "false"}, {}, None),
        # what `accelerate launch --config_file configs/accelerate/fsdp.yaml` exports
        ({"ACCELERATE_USE_FSDP": "true", "FSDP_TRANSFORMER_CLS_TO_WRAP": "CrossAttentionLayer,SelfAttentionLayer",
          "FSDP_RESHARD_AFTER_FORWARD": "false"}, {}, FsdpRequest(DEFAULT_UNITS, False)),
        ({"ACCELERATE_USE_FSDP": "true"}, {}, FsdpRequest()),
        # `perceiver-hf train --fsdp` (TrainingArguments turns it into True and normalises fsdp_config)
        ({}, {"fsdp": True, "fsdp_config": {"transformer_layer_cls_to_wrap": ["SelfAttentionLayer"]}},
         FsdpRequest(("SelfAttentionLayer",), True)),
        ({}, {"fsdp": True, "fsdp_config": {}}, FsdpRequest()),
    ],
)  # fmt: skip
def test_fsdp_request_reads_accelerate_launch_and_the_fsdp_flag(environ, fields, expected):
    assert fsdp_request(_training_args(**fields), environ) == expected


def test_fsdp_plan_names_every_unit_once_with_layer_numbers_as_wildcards():
    from perceiver_hf import PerceiverForMaskedLM
    from perceiver_hf.training.presets import tiny

    model = PerceiverForMaskedLM(tiny(max_seq_len=64))
    assert fsdp_plan(model, DEFAULT_UNITS) == {
        "perceiver.encoder.cross_attention": "free_full_weight",
        "perceiver.encoder.self_attention.layers.*": "free_full_weight",
        "perceiver.decoder.cross_attention": "free_full_weight",
    }
    with pytest.raises(ValueError, match="No module of class LlamaDecoderLayer in PerceiverForMaskedLM"):
        fsdp_plan(model, ["LlamaDecoderLayer"])


@pytest.mark.parametrize(
    "fields, environ, message",
    [
        ({}, {"WORLD_SIZE": "2"}, "pass --save_only_model true or --save_strategy no"),
        ({"world_size": 1}, {"WORLD_SIZE": "2"}, "2 processes were started but each trains alone.*--use_cpu"),
    ],
)
def test_cpu_fsdp_runs_that_cannot_work_are_refused(monkeypatch, fields, environ, message):
    for name, value in {"ACCELERATE_USE_FSDP": "true", **environ}.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(ValueError, match=message):
        prepare_cpu_fsdp_run(_training_args(**fields))


def test_runs_without_fsdp_or_on_gpus_are_left_to_accelerate(monkeypatch):
    model = torch.nn.Linear(2, 2)
    monkeypatch.delenv("ACCELERATE_USE_FSDP", raising=False)
    assert shard_for_training(model, _training_args()) is model
    monkeypatch.setenv("ACCELERATE_USE_FSDP", "true")
    assert shard_for_training(model, _training_args(device=torch.device("cuda", 0))) is model
    assert shard_for_training(model, _training_args(world_size=1)) is model
