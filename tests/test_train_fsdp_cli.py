"""`accelerate launch --config_file configs/accelerate/fsdp-cpu-2proc.yaml -m perceiver_hf.cli train --use_cpu ...`
(and configs/accelerate/fsdp.yaml with 2 processes, no bf16) really shards (FSDP2, gloo) and trains like one
process with the same global batch: 2 x 2 examples vs 1 x 4, for the masked LM and for classifiers fine-tuned from
a masked LM (`--task text-classification` and `token-classification`).

The sharded runs go through tests/helpers/sharding_probe.py, which is `perceiver-hf train` plus a callback that
records after every step how many parameters are dim-0-sharded DTensors and how many elements each process holds.
The two runs see the same examples in the same order (accelerate's seedable sampler) and FSDP's reduce-scatter
averages the two halves' gradients as DDP does, so they differ only by float32 summation order (and, for the
classifiers, by the padding of batches of 2 vs 4, which the model ignores up to rounding): losses and weights agree
to 1e-5. Observed: losses within 5e-7, weights within 1.6e-6 (masked LM), 3e-6 (sequence) and 6e-8
(token classifier), key biases excepted (see test_train_run.max_weight_difference).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from test_train_distributed import free_port
from test_train_run import logged_losses, max_weight_difference, short_run_args

from perceiver_hf import PerceiverForMaskedLM, PerceiverForSequenceClassification, PerceiverForTokenClassification
from perceiver_hf.training.presets import tiny

TESTS = Path(__file__).resolve().parent
REPO = TESTS.parent
FSDP_CPU_CONFIG = REPO / "configs" / "accelerate" / "fsdp-cpu-2proc.yaml"
FSDP_GPU_CONFIG = REPO / "configs" / "accelerate" / "fsdp.yaml"
GPU_TO_CPU = ("--num_processes", "2", "--mixed_precision", "no")
CODE = ["x = len(a)", "for i in range(3): pass", "def f(y): return y", "print(x + 1)", "import os", "a[i] = b[j]"]
PROSE = ["The cat sat on the mat.", "It rained all day.", "We went home early.", "Birds sing.", "A lake.", "Hi."]


def run_sharded(
    tmp_path: Path, arguments: list[str], config: Path = FSDP_CPU_CONFIG, *launch_options: str
) -> list[list[dict]]:
    """Run `arguments` on 2 CPU processes under the accelerate FSDP `config`; return each rank's sharding records."""
    prefix = tmp_path / "sharding"
    command = [
        sys.executable, "-m", "accelerate.commands.launch", "--config_file", str(config), *launch_options,
        "--main_process_port", str(free_port()), "-m", "helpers.sharding_probe", str(prefix), *arguments, "--use_cpu",
    ]  # fmt: skip
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": os.pathsep.join([str(REPO / "src"), str(TESTS)])}
    result = subprocess.run(command, capture_output=True, text=True, env=env, timeout=180, cwd=tmp_path)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "units sharded over 2 processes" in result.stdout + result.stderr  # perceiver_hf.training.fsdp's log
    return [json.loads(Path(f"{prefix}-rank{rank}.json").read_text()) for rank in (0, 1)]


def assert_sharded(records: list[list[dict]], steps: int) -> None:
    """Every parameter a dim-0-sharded DTensor at every step; the two processes' shards add up to the model."""
    for rank_steps in records:
        assert len(rank_steps) == steps
        assert all(step["sharded"] == step["parameters"] > 0 for step in rank_steps)
    for first, second in zip(*records):
        assert first["local"] + second["local"] == first["total"]
        assert max(first["local"], second["local"]) < 0.55 * first["total"]  # halves, up to uneven row counts


def assert_same_folder_as(double: Path, single: Path, model_class: type) -> None:
    """The sharded run saved an ordinary model folder: the single run's config and weight names, loadable strictly,
    and a card that names the model's class, not the `FSDP...` class `fully_shard` turns it into."""
    assert load_file(double / "model.safetensors").keys() == load_file(single / "model.safetensors").keys()
    assert json.loads((double / "config.json").read_text()) == json.loads((single / "config.json").read_text())
    assert "FSDP" not in (double / "README.md").read_text()
    model_class.from_pretrained(double)  # perceiver-hf's from_pretrained refuses missing or unexpected weights


def test_fsdp_masked_lm_on_two_cpu_processes_matches_one_process(tmp_path):
    from perceiver_hf.training.run import run_from_argv

    options = ("--save_only_model", "true")  # FSDP on CPU checkpoints weights only (checkpoint-3 below)
    single, double = tmp_path / "single", tmp_path / "double"
    run_from_argv(short_run_args(single, *options))
    records = run_sharded(tmp_path, short_run_args(double, *options, "--per_device_train_batch_size", "2"))

    assert_sharded(records, steps=6)
    assert logged_losses(double) == pytest.approx(logged_losses(single), abs=1e-5)
    assert max_weight_difference(double, single) < 1e-5
    assert_same_folder_as(double, single, PerceiverForMaskedLM)
    assert max_weight_difference(double / "checkpoint-3", single / "checkpoint-3") < 1e-5


SEQUENCE_ROWS = [{"text": t, "label": "code"} for t in CODE] + [{"text": t, "label": "prose"} for t in PROSE]
TOKEN_ROWS = [
    {"text": words, "label": ["O", "B-CODE", "O"]}
    for words in (["call", "len(x)", "now"], ["use", "os.path", "here"], ["then", "f(y)", "ends"], ["so", "a[i]", "is"])
] * 3  # fmt: skip


@pytest.mark.parametrize(
    "task, rows, model_class",
    [
        ("text-classification", SEQUENCE_ROWS, PerceiverForSequenceClassification),
        ("token-classification", TOKEN_ROWS, PerceiverForTokenClassification),
    ],
)
def test_fsdp_classifier_fine_tuning_on_two_cpu_processes_matches_one_process(tmp_path, task, rows, model_class):
    from perceiver_hf.training.run import run_from_argv

    train = tmp_path / "train.jsonl"
    train.write_text("".join(json.dumps(row) + "\n" for row in rows))
    pretrained = tmp_path / "masked-lm"  # fine-tuned as a classifier: encoder loaded, classifier new
    torch.manual_seed(0)
    PerceiverForMaskedLM(tiny(max_seq_len=64)).save_pretrained(pretrained)

    def arguments(output_dir: Path, batch: int) -> list[str]:
        return [
            "--task", task, "--model_name_or_path", str(pretrained), "--tokenizer_name", "byte",
            "--train_file", str(train), "--max_seq_len", "64",
            "--validation_split_percentage", "0",  # all 12 rows train: 3 full global batches per epoch
            "--output_dir", str(output_dir), "--cache_dir", str(tmp_path / "cache"), "--max_steps", "6",
            "--per_device_train_batch_size", str(batch), "--learning_rate", "3e-4", "--seed", "3",
            "--logging_steps", "1", "--save_strategy", "no", "--disable_tqdm", "true", "--report_to", "none",
        ]  # fmt: skip

    single, double = tmp_path / "single", tmp_path / "double"
    run_from_argv(arguments(single, 4))
    # the GPU config as it is, but 2 processes without bf16; its fsdp_cpu_ram_efficient_loading is turned off on CPU
    records = run_sharded(tmp_path, arguments(double, 2), FSDP_GPU_CONFIG, *GPU_TO_CPU)

    assert_sharded(records, steps=6)
    # batches of 2 are padded to their own longest text, batches of 4 to theirs: padding must not matter
    assert logged_losses(double) == pytest.approx(logged_losses(single), abs=1e-5)
    assert max_weight_difference(double, single) < 1e-5
    assert_same_folder_as(double, single, model_class)
