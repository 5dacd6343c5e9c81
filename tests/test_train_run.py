"""Training runs with `Trainer`: outputs, exact resume, gradient accumulation, gradient checkpointing, bf16 on
CPU, push_to_hub pass-through, metrics, and a test that a tiny model learns from the shipped text.

References: one uninterrupted reference run (resume, accumulation and checkpointing must reproduce its final
weights), ln(262) for an untrained byte model, forward hooks that observe recomputation and bf16 activations,
and `torch.nn.functional.cross_entropy` for the metrics.
"""

from __future__ import annotations

import json
import logging
import math
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from safetensors.torch import load_file
import transformers.trainer
from transformers import AutoModelForMaskedLM, AutoTokenizer, EvalPrediction, TrainerCallback, TrainingArguments

from helpers.log_records import RecordedMessages
from perceiver_hf.training.metrics import compute_metrics, preprocess_logits_for_metrics
from perceiver_hf.training.run import run_from_argv, warn_if_slow_cpu_bf16

DATA = Path(__file__).parent / "data" / "english"
FIXTURE_PARAMS = Path(__file__).parent / "fixtures" / "haiku-tiny" / "params.pickle"
STEPS = 6


def short_run_args(output_dir: Path, *extra: str) -> list[str]:
    """6 steps of a tiny model on the Declaration, global batch 4, every loss logged, checkpoints every 3 steps."""
    return [
        "--preset", "tiny", "--train_file", str(DATA / "declaration_of_independence.txt"),
        "--validation_split_percentage", "0", "--max_seq_len", "64", "--cache_dir", str(output_dir.parent / "cache"),
        "--output_dir", str(output_dir), "--learning_rate", "1e-3", "--seed", "3", "--max_steps", str(STEPS),
        "--per_device_train_batch_size", "4", "--logging_steps", "1", "--save_steps", "3", "--disable_tqdm", "true",
        *extra,
    ]  # fmt: skip


def weights(output_dir: Path) -> dict[str, torch.Tensor]:
    return load_file(output_dir / "model.safetensors")


def max_weight_difference(a: Path, b: Path) -> float:
    """Largest absolute difference of the saved weights, key projection biases excepted.

    A key bias adds the same q . b_k to every score of a query, which softmax ignores: its gradient is zero in
    exact arithmetic, so in float32 it is rounding noise that Adam scales up to steps of order lr. Those
    parameters differ between any two summation orders and say nothing about the training.
    """
    first, second = weights(a), weights(b)
    assert first.keys() == second.keys()
    return max((first[k] - second[k]).abs().max().item() for k in first if not k.endswith("k_proj.bias"))


def logged_losses(output_dir: Path) -> list[float]:
    history = json.loads((output_dir / "trainer_state.json").read_text())["log_history"]
    return [entry["loss"] for entry in history if "loss" in entry]


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> Path:
    """The uninterrupted single-process run every other run is compared with."""
    output_dir = tmp_path_factory.mktemp("runs") / "reference"
    run_from_argv(short_run_args(output_dir))
    return output_dir


class LayerCallCounter(TrainerCallback):
    """Counts calls of the first latent self-attention layer during training; records its MLP's output dtypes.

    Calls are counted by a pre-hook on the layer's attention: a `GradientCheckpointingLayer` runs its own hooks once
    (outside the checkpoint), and the recomputation in backward stops as soon as the saved tensors are rebuilt,
    so forward (post-)hooks do not see it either.
    """

    def __init__(self) -> None:
        self.calls = 0
        self.dtypes: set[torch.dtype] = set()
        self.handles = []

    def _count(self, module, inputs) -> None:
        self.calls += 1

    def _record_dtype(self, module, inputs, output) -> None:
        self.dtypes.add(output[0].dtype if isinstance(output, tuple) else output.dtype)

    def on_train_begin(self, args, state, control, model=None, **kwargs):
        layer = model.perceiver.encoder.self_attention.layers[0]
        self.handles = [
            layer.attention.register_forward_pre_hook(self._count),
            layer.mlp.fc1.register_forward_hook(self._record_dtype),  # a Linear: bf16 under CPU autocast
        ]

    def on_train_end(self, args, state, control, **kwargs):
        for handle in self.handles:
            handle.remove()


class Interrupt(Exception):
    """Stands for the process being killed."""


class InterruptAtStep(TrainerCallback):
    def __init__(self, step: int) -> None:
        self.step = step

    def on_step_begin(self, args, state, control, **kwargs):
        if state.global_step == self.step:
            raise Interrupt


# --- outputs -----------------------------------------------------------------------------------------------


def test_run_writes_safetensors_model_checkpoints_and_loss_curve(reference):
    assert {"model.safetensors", "config.json", "tokenizer.json", "trainer_state.json"} <= {p.name for p in reference.iterdir()}
    assert (reference / "checkpoint-3" / "model.safetensors").is_file()
    assert not list(reference.rglob("pytorch_model.bin"))
    assert len(logged_losses(reference)) == STEPS

    import matplotlib.image

    curve = reference / "loss_curve.png"
    assert curve.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert matplotlib.image.imread(curve).shape[:2] == (450, 700)

    model = AutoModelForMaskedLM.from_pretrained(reference)
    saved = weights(reference)
    for name, tensor in model.state_dict().items():
        if name in saved:
            assert torch.equal(tensor, saved[name])


# --- exact continuation and equivalent schedules -----------------------------------------------------------


def test_interrupted_run_resumes_exactly(reference, tmp_path):
    output_dir = tmp_path / "interrupted"
    with pytest.raises(Interrupt):
        run_from_argv(short_run_args(output_dir), callbacks=[InterruptAtStep(4)])  # after checkpoint-3
    assert not (output_dir / "model.safetensors").exists()
    run_from_argv(short_run_args(output_dir, "--resume_from_checkpoint", "last"))
    assert logged_losses(output_dir) == logged_losses(reference)
    assert max_weight_difference(output_dir, reference) == 0.0


def test_gradient_accumulation_matches_the_larger_batch(reference, tmp_path):
    output_dir = tmp_path / "accumulated"
    run_from_argv(short_run_args(output_dir, "--per_device_train_batch_size", "2", "--gradient_accumulation_steps", "2"))
    assert logged_losses(output_dir) == pytest.approx(logged_losses(reference), abs=1e-5)
    assert max_weight_difference(output_dir, reference) < 1e-5


@pytest.mark.filterwarnings("ignore:`gradient_checkpointing` is deprecated:FutureWarning")
@pytest.mark.parametrize("flag", ["--activation_checkpointing", "--gradient_checkpointing"])
def test_gradient_checkpointing_recomputes_and_matches(reference, tmp_path, flag):
    counter = LayerCallCounter()
    output_dir = tmp_path / "checkpointed"
    run_from_argv(short_run_args(output_dir, flag, "true"), callbacks=[counter])
    assert counter.calls == 2 * STEPS  # forward, then recomputation in backward
    assert max_weight_difference(output_dir, reference) < 1e-6


def test_bf16_autocast_on_cpu(reference, tmp_path):
    counter = LayerCallCounter()
    output_dir = tmp_path / "bf16"
    run_from_argv(short_run_args(output_dir, "--bf16", "--use_cpu"), callbacks=[counter])
    assert counter.dtypes == {torch.bfloat16}
    assert all(t.dtype == torch.float32 for t in weights(output_dir).values())  # master weights stay fp32
    losses, reference_losses = logged_losses(output_dir), logged_losses(reference)
    assert losses == pytest.approx(reference_losses, abs=0.02) and losses != reference_losses


@pytest.mark.parametrize("native", [True, False])
def test_bf16_warns_on_a_cpu_without_bf16_instructions(native, monkeypatch, tmp_path):
    monkeypatch.setattr(torch.cpu, "get_capabilities", lambda: {"architecture": "x86_64", "avx512_bf16": native})
    logger = logging.getLogger("perceiver_hf.training.run")
    logger.addHandler(records := RecordedMessages())
    try:
        warn_if_slow_cpu_bf16(TrainingArguments(output_dir=str(tmp_path), bf16=True, use_cpu=True))
        warn_if_slow_cpu_bf16(TrainingArguments(output_dir=str(tmp_path), use_cpu=True))  # float32: nothing to say
    finally:
        logger.removeHandler(records)
    if native:
        assert records.messages == []
    else:
        [message] = records.messages
        assert message.startswith("--bf16 --use_cpu: this CPU has no bfloat16 instructions")
        assert message.endswith("drop --bf16 to train in float32.") and "\n" not in message


class FakeHubApi:
    """Stands in for huggingface_hub's HfApi: records repository creation and uploads instead of going online."""

    def __init__(self) -> None:
        self.created: list[dict] = []
        self.uploads: list[dict] = []

    def create_repo(self, repo_id, token=None, private=None, exist_ok=False, **kwargs):
        self.created.append({"repo_id": repo_id, "private": private})
        return SimpleNamespace(repo_id=repo_id)

    def upload_folder(self, **kwargs):
        readme = Path(kwargs["folder_path"]) / "README.md"  # the model card as it is when uploaded
        self.uploads.append({**kwargs, "readme": readme.read_text() if readme.is_file() else None})


def test_push_to_hub_arguments_pass_through(monkeypatch, tmp_path):
    api = FakeHubApi()
    monkeypatch.setattr(transformers.trainer, "hf_api", lambda: api)
    output_dir = tmp_path / "hub"
    argv = short_run_args(output_dir, "--push_to_hub", "--hub_model_id", "someone/tiny-perceiver",
                          "--hub_private_repo", "true", "--hub_strategy", "end", "--save_strategy", "no")  # fmt: skip
    run_from_argv(argv)
    assert api.created == [{"repo_id": "someone/tiny-perceiver", "private": True}]
    assert api.uploads and all(u["repo_id"] == "someone/tiny-perceiver" for u in api.uploads)
    assert all(u["folder_path"] == str(output_dir) for u in api.uploads)
    assert api.uploads[-1]["commit_message"] == "End of training"
    for upload in api.uploads:  # perceiver-hf's card of the run, not Trainer's auto-generated one
        assert 'pipeline("fill-mask", model="someone/tiny-perceiver")' in upload["readme"]
        assert "perceiver-hf train" in upload["readme"] and "generated automatically" not in upload["readme"]


def test_evaluation_only_run(reference, tmp_path):
    output_dir = tmp_path / "eval-only"
    metrics = run_from_argv([
        "--model_name_or_path", str(reference), "--validation_file", str(DATA / "gettysburg_address.txt"),
        "--do_eval", "--output_dir", str(output_dir), "--cache_dir", str(tmp_path / "cache"), "--max_seq_len", "64",
    ])  # fmt: skip
    assert set(metrics) >= {"eval_loss", "eval_accuracy", "eval_perplexity", "eval_masked_tokens"}
    assert metrics["eval_masked_tokens"] > 0
    assert not (output_dir / "model.safetensors").exists() and (output_dir / "eval_results.json").is_file()


def test_fine_tune_a_converted_deepmind_checkpoint(tmp_path):
    """`perceiver-hf convert haiku` then `perceiver-hf train --model_name_or_path` (DeepMind's tiny fixture)."""
    from perceiver_hf.cli import main as cli_main

    heads = "num_self_attention_heads=4,num_cross_attention_heads=4,decoder_num_cross_attention_heads=4"
    converted = tmp_path / "converted"
    assert cli_main(["convert", "haiku", str(FIXTURE_PARAMS), str(converted), "--quiet", "--config-overrides", heads]) == 0
    config, tokenizer = json.loads((converted / "config.json").read_text()), AutoTokenizer.from_pretrained(converted)
    assert [config[f"{t}_token_id"] for t in ("pad", "bos", "eos")] == [
        tokenizer.pad_token_id, tokenizer.bos_token_id, tokenizer.eos_token_id
    ]  # config and tokenizer agree, so Trainer has nothing to realign
    alignment = logging.getLogger("transformers.trainer_utils")
    alignment.addHandler(records := RecordedMessages())
    output_dir = tmp_path / "fine-tuned"
    metrics = run_from_argv([
        "--model_name_or_path", str(converted), "--train_file", str(DATA / "gettysburg_address.txt"),
        "--validation_split_percentage", "20", "--max_seq_len", "128", "--masking", "whole_word",
        "--cache_dir", str(tmp_path / "cache"), "--output_dir", str(output_dir), "--max_steps", "4",
        "--per_device_train_batch_size", "2", "--learning_rate", "1e-3", "--logging_steps", "1",
        "--eval_on_start", "true", "--save_strategy", "no", "--disable_tqdm", "true",
    ])  # fmt: skip
    alignment.removeHandler(records)
    assert not [m for m in records.messages if "PAD/BOS/EOS" in m]
    history = json.loads((output_dir / "trainer_state.json").read_text())["log_history"]
    # the fixture's large random weights, not a fresh initialisation (which would start near ln(262) = 5.57)
    assert history[0]["eval_loss"] > 8.0
    assert metrics["eval_loss"] < history[0]["eval_loss"]
    before, after = weights(converted), weights(output_dir)
    assert before.keys() == after.keys() and any(not torch.equal(before[k], after[k]) for k in before)
    assert json.loads((output_dir / "config.json").read_text())["num_latents"] == 16
    assert (output_dir / "tokenizer.json").is_file()


# --- metrics -----------------------------------------------------------------------------------------------


def test_metrics_reduce_logits_per_token():
    generator = torch.Generator().manual_seed(0)
    logits = torch.randn(2, 3, 11, generator=generator)  # [B, K, V]
    labels = torch.tensor([[4, -100, 7], [int(logits[1, 0].argmax()), 2, -100]])
    predictions, losses = preprocess_logits_for_metrics(logits, labels)
    assert predictions.shape == losses.shape == (2, 3)  # no vocabulary axis kept
    assert torch.equal(predictions, logits.argmax(-1))
    for b, k in [(0, 0), (0, 2), (1, 0), (1, 1)]:
        assert losses[b, k].item() == pytest.approx(F.cross_entropy(logits[b, k], labels[b, k]).item(), abs=1e-6)

    # a second batch with a different K, padded with -100 the way Trainer concatenates
    preds = np.array([[1, 2, 3], [5, 0, -100]])
    token_losses = np.array([[0.5, 9.0, 1.5], [1.0, 9.0, -100.0]])
    label_ids = np.array([[1, -100, 4], [5, -100, -100]])
    metrics = compute_metrics(EvalPrediction(predictions=(preds, token_losses), label_ids=label_ids))
    assert metrics["accuracy"] == pytest.approx(2 / 3)
    assert metrics["nll"] == pytest.approx(1.0) and metrics["perplexity"] == pytest.approx(math.e)
    assert metrics["masked_tokens"] == 3


# --- learning ----------------------------------------------------------------------------------------------


def test_tiny_model_learns_from_the_shipped_text(tmp_path):
    """100 steps on 33 KB of English lower the held-out masked-byte loss from ln(262) to well below it."""
    train_files = [str(p) for p in sorted(DATA.glob("*.txt")) if p.name != "gettysburg_address.txt"]
    output_dir = tmp_path / "learn"
    metrics = run_from_argv([
        "--preset", "tiny", "--train_file", *train_files, "--validation_file", str(DATA / "gettysburg_address.txt"),
        "--max_seq_len", "128", "--cache_dir", str(tmp_path / "cache"), "--output_dir", str(output_dir),
        "--per_device_train_batch_size", "8", "--learning_rate", "2e-3", "--warmup_steps", "10", "--max_steps", "100",
        "--seed", "0", "--eval_on_start", "true", "--save_strategy", "no", "--disable_tqdm", "true",
    ])  # fmt: skip
    history = json.loads((output_dir / "trainer_state.json").read_text())["log_history"]
    initial = history[0]["eval_loss"]
    assert initial == pytest.approx(math.log(262), abs=0.3)  # an untrained model is close to uniform
    assert metrics["eval_loss"] < initial - 2.0
    assert metrics["eval_accuracy"] > 10 / 262
    assert metrics["eval_perplexity"] == pytest.approx(math.exp(metrics["eval_nll"]))


def test_saved_tokenizer_carries_the_model_length(reference):
    # the byte tokenizer's own default is 2048; the run trains a short-context model
    config = json.loads((reference / "config.json").read_text())
    tokenizer_config = json.loads((reference / "tokenizer_config.json").read_text())
    assert config["max_seq_len"] < 2048
    assert tokenizer_config["model_max_length"] == config["max_seq_len"]
