"""`perceiver-hf train --task causal-lm`: a tiny Perceiver AR learns from the shipped English text, its folder
generates through transformers' pipeline, its data is cut and padded as documented, and bad arguments are refused
in one line before any training.

Two processes (DDP and FSDP2) against one: tests/test_train_causal_lm_distributed.py.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from datasets import DatasetDict
from transformers import AutoModelForCausalLM, AutoTokenizer, pipeline

from perceiver_hf import PerceiverARConfig, PerceiverByteTokenizer, PerceiverForCausalLM, PerceiverForMaskedLM
from perceiver_hf.training.causal_lm_collator import CausalLMCollator
from perceiver_hf.training.causal_lm_run import CausalLMTask
from perceiver_hf.training.data import load_raw_datasets
from perceiver_hf.training.fsdp import FsdpRequest, fsdp_plan
from perceiver_hf.training.model_setup import PERCEIVER_AR, load_tokenizer, resolve_model_setup
from perceiver_hf.training.parsing import parse_train_args
from perceiver_hf.training.presets import TINY_CAUSAL_LM_CONFIG, tiny
from perceiver_hf.training.run import run_from_argv

DATA = Path(__file__).parent / "data" / "english"
HELD_OUT = DATA / "gettysburg_address.txt"


def causal_args(tmp_path: Path, *extra: str) -> list[str]:
    """A tiny Perceiver AR on the Declaration, 64-token examples, caches and outputs under tmp_path."""
    return [
        "--task", "causal-lm", "--preset", "tiny", "--train_file", str(DATA / "declaration_of_independence.txt"),
        "--max_seq_len", "64", "--cache_dir", str(tmp_path / "cache"), "--output_dir", str(tmp_path / "out"),
        "--disable_tqdm", "true", "--report_to", "none", *extra,
    ]  # fmt: skip


@pytest.fixture(scope="module")
def learned(tmp_path_factory) -> tuple[Path, dict[str, float]]:
    """60 steps on 33 KB of English (all shipped files but the Gettysburg Address, which is held out)."""
    root = tmp_path_factory.mktemp("causal")
    train_files = [str(p) for p in sorted(DATA.glob("*.txt")) if p != HELD_OUT]
    output_dir = root / "learn"
    metrics = run_from_argv([
        "--task", "causal-lm", "--preset", "tiny", "--train_file", *train_files, "--validation_file", str(HELD_OUT),
        "--max_seq_len", "128", "--cache_dir", str(root / "cache"), "--output_dir", str(output_dir),
        "--per_device_train_batch_size", "8", "--learning_rate", "2e-3", "--warmup_steps", "10", "--max_steps", "60",
        "--seed", "0", "--eval_on_start", "true", "--logging_steps", "1", "--save_strategy", "no",
        "--disable_tqdm", "true", "--report_to", "none",
    ])  # fmt: skip
    return output_dir, metrics


# --- learning, evaluation, the saved folder ------------------------------------------------------------------


def test_tiny_model_learns_from_the_shipped_text(learned):
    output_dir, metrics = learned
    history = json.loads((output_dir / "trainer_state.json").read_text())["log_history"]
    initial = history[0]
    # an untrained model predicts close to uniformly over 262 byte ids: the losses are per predicted token
    assert initial["eval_nll"] == pytest.approx(math.log(262), abs=0.3)
    assert initial["eval_loss"] == pytest.approx(math.log(262), abs=0.3)
    assert next(entry["loss"] for entry in history if "loss" in entry) == pytest.approx(math.log(262), abs=0.3)
    assert metrics["eval_nll"] < initial["eval_nll"] - 2.0
    assert metrics["eval_accuracy"] > 10 / 262
    assert metrics["eval_perplexity"] == pytest.approx(math.exp(metrics["eval_nll"]))
    # every held-out example is scored at its latents: 1,476 bytes in 12 examples (11 of 128, one of 68)
    assert metrics["eval_predicted_tokens"] == 11 * 31 + 31


def test_saved_folder_generates_through_the_pipeline(learned):
    output_dir, _ = learned
    config = json.loads((output_dir / "config.json").read_text())
    tokenizer_config = json.loads((output_dir / "tokenizer_config.json").read_text())
    assert config["model_type"] == "perceiver_ar" and config["architectures"] == ["PerceiverForCausalLM"]
    assert tokenizer_config["model_max_length"] == config["max_seq_len"] == 128
    model = AutoModelForCausalLM.from_pretrained(output_dir)
    tokenizer = AutoTokenizer.from_pretrained(output_dir)
    assert type(model) is PerceiverForCausalLM and isinstance(tokenizer, PerceiverByteTokenizer)

    generator = pipeline("text-generation", model=str(output_dir))
    prompts = ["We hold these truths", "Four score"]
    batched = generator(prompts, max_new_tokens=12, do_sample=False, batch_size=2)
    for prompt, result in zip(prompts, batched):
        ids = tokenizer(prompt, return_tensors="pt").input_ids
        alone = model.generate(ids, max_new_tokens=12, do_sample=False)
        # the batch is padded on the left (the saved tokenizer's side): the shorter prompt's result is its own
        assert result[0]["generated_text"] == tokenizer.decode(alone[0], skip_special_tokens=True)
        assert result[0]["generated_text"].startswith(prompt) and len(alone[0]) == len(ids[0]) + 12


def test_card_names_the_model_the_data_and_the_figures(learned):
    output_dir, metrics = learned
    card = (output_dir / "README.md").read_text()
    assert "pipeline_tag: text-generation" in card and "A Perceiver AR causal language model" in card
    assert "the last 32 positions of each example are the latents" in card
    assert f"| perplexity of the predicted tokens | {metrics['eval_perplexity']:.2f} |" in card
    assert "--task causal-lm --model_name_or_path" in card  # the evaluation command trains nothing


# --- data: blocks, padding, labels -----------------------------------------------------------------------------


def test_collator_pads_on_the_left_and_labels_only_the_predicted_tokens():
    tokenizer = PerceiverByteTokenizer(padding_side="left")
    collator = CausalLMCollator(tokenizer, max_latents=4)
    full, short = list(range(10, 20)), [7, 8, 9]
    batch = collator([{"input_ids": full}, {"input_ids": short}])
    assert batch["input_ids"].tolist() == [full, [0] * 7 + short]
    assert batch["attention_mask"].tolist() == [[1] * 10, [0] * 7 + [1] * 3]
    # latents are positions 6..9; latent i predicts position i + 1: targets at 7, 8, 9 only
    assert batch["labels"].tolist() == [[-100] * 7 + full[7:], [-100] * 7 + short]


def test_collated_loss_is_the_mean_next_token_loss_at_the_latents():
    torch.manual_seed(0)
    model = PerceiverForCausalLM(PerceiverARConfig(**{**TINY_CAUSAL_LM_CONFIG, "max_seq_len": 12, "max_latents": 4})).eval()
    collator = CausalLMCollator(PerceiverByteTokenizer(padding_side="left"), max_latents=4)
    ids = torch.randint(6, 262, (2, 12), generator=torch.Generator().manual_seed(1))
    batch = collator([{"input_ids": row.tolist()} for row in ids])
    out = model(**batch)
    expected = F.cross_entropy(out.logits[:, :-1].reshape(-1, 262), ids[:, 9:].reshape(-1))  # 2 x 3 targets
    torch.testing.assert_close(out.loss, expected)
    # what Trainer divides the summed loss by (its count of labels[:, 1:] != -100) is the same 6 tokens
    assert int((batch["labels"][:, 1:] != -100).sum()) == 6


def test_text_is_cut_into_full_blocks_and_the_rest_kept(tmp_path):
    arguments = parse_train_args(causal_args(tmp_path, "--validation_split_percentage", "0"))
    tokenizer = load_tokenizer(arguments.model)
    setup = resolve_model_setup(arguments.model, arguments.config_groups, arguments.data, tokenizer, PERCEIVER_AR)
    raw = load_raw_datasets(arguments.data)
    data = CausalLMTask().prepare(DatasetDict(train=raw["train"]), tokenizer, setup, arguments)
    blocks = data.datasets["train"]["input_ids"]
    text = (DATA / "declaration_of_independence.txt").read_bytes()
    assert [len(block) for block in blocks] == [64] * (len(text) // 64) + [len(text) % 64]
    assert bytes(token - 6 for block in blocks for token in block) == text  # every byte, in order
    assert tokenizer.padding_side == "left" and tokenizer.model_max_length == 64


# --- the model from flags, files and folders ------------------------------------------------------------------


def setup_of(argv: list[str]):
    arguments = parse_train_args(argv)
    tokenizer = load_tokenizer(arguments.model)
    return resolve_model_setup(arguments.model, arguments.config_groups, arguments.data, tokenizer, PERCEIVER_AR)


def test_config_flags_and_overrides_reach_the_perceiver_ar_config(tmp_path):
    setup = setup_of(causal_args(
        tmp_path, "--max_latents", "16", "--num_channels", "32", "--cross_attention_dropout", "0.1",
        "--self_attention_widening_factor", "3", "--config_overrides", "num_heads=2,max_latents=8",
    ))  # fmt: skip
    config = setup.config
    assert type(config) is PerceiverARConfig and setup.max_seq_len == config.max_seq_len == 64
    # the individual flag wins over --config_overrides; the shared flag reaches the Perceiver AR config too
    assert (config.max_latents, config.num_channels, config.num_heads) == (16, 32, 2)
    assert (config.cross_attention_dropout, config.self_attention_widening_factor) == (0.1, 3)
    assert config.vocab_size == 262 and config.num_self_attention_layers == 2  # tokenizer, tiny preset


def test_fine_tuning_a_perceiver_ar_folder_may_change_only_dropouts(tmp_path):
    folder = tmp_path / "ar"
    PerceiverForCausalLM(PerceiverARConfig(**{**TINY_CAUSAL_LM_CONFIG, "max_seq_len": 64})).save_pretrained(folder)
    base = ["--task", "causal-lm", "--model_name_or_path", str(folder), "--tokenizer_name", "byte"]
    argv = causal_args(tmp_path)[4:]  # without --preset tiny
    setup = setup_of([*base, *argv, "--cross_attention_dropout", "0.25"])
    assert setup.pretrained and setup.config.cross_attention_dropout == 0.25 and setup.config.max_latents == 32
    with pytest.raises(ValueError, match="Cannot change num_channels of the pretrained model"):
        setup_of([*base, *argv, "--num_channels", "32"])


def perceiver_io_folder(tmp_path: Path) -> Path:
    PerceiverForMaskedLM(tiny(max_seq_len=64)).save_pretrained(tmp_path / "mlm")
    return tmp_path / "mlm"


@pytest.mark.parametrize(
    "extra, match",
    [
        (["--max_latents", "65"], r"--max_seq_len 64 is shorter than the model's max_latents=65"),
        (["--num_latents", "8"], r"--num_latents is a PerceiverConfig field; this run trains a perceiver_ar model"),
        (["--config_overrides", "num_latents=8"], r"unknown key 'num_latents'\. Valid keys \(PerceiverARConfig"),
        (["--preset", "perceiver_io_base"], r"--preset perceiver_io_base: no such perceiver_ar preset"),
        (["--freeze_encoder"], r"--freeze_encoder trains only a Perceiver IO decoder"),
        (["--num_channels", "30"], r"num_channels must be a multiple of num_heads"),
    ],
)
def test_bad_arguments_are_one_line_errors(tmp_path, extra, match):
    argv = causal_args(tmp_path, "--validation_split_percentage", "0", "--max_steps", "1")
    if extra[0] == "--preset":
        argv[argv.index("--preset") + 1] = extra[1]
        extra = []
    with pytest.raises(ValueError, match=match) as error:
        run_from_argv([*argv, *extra])
    assert "\n" not in str(error.value)
    assert not (tmp_path / "out").exists()


def test_a_folder_of_the_other_family_is_refused_naming_the_task(tmp_path):
    argv = causal_args(tmp_path)[4:]
    with pytest.raises(ValueError, match=r"holds a 'perceiver_io' model, not a 'perceiver_ar'.*Perceiver IO masked LM"):
        run_from_argv(["--task", "causal-lm", "--model_name_or_path", str(perceiver_io_folder(tmp_path)), *argv])
    ar = tmp_path / "ar"
    PerceiverForCausalLM(PerceiverARConfig(**{**TINY_CAUSAL_LM_CONFIG, "max_seq_len": 64})).save_pretrained(ar)
    PerceiverByteTokenizer().save_pretrained(ar)
    with pytest.raises(ValueError, match=r"holds a 'perceiver_ar' model.*train it with --task causal-lm"):
        run_from_argv(["--model_name_or_path", str(ar), *argv])
    with pytest.raises(ValueError, match=r"--max_latents is a PerceiverARConfig field.*--task causal-lm"):
        run_from_argv(["--preset", "tiny", *argv, "--max_latents", "8"])
    with pytest.raises(ValueError, match=r"--max_seq_len 16 is shorter than the model's max_latents=32"):
        run_from_argv(["--task", "causal-lm", "--model_name_or_path", str(ar), *argv, "--max_seq_len", "16"])


def test_fsdp_units_default_to_the_models_layers():
    model = PerceiverForCausalLM(PerceiverARConfig(**{**TINY_CAUSAL_LM_CONFIG, "max_seq_len": 64}))
    units = FsdpRequest().unit_classes(model)
    assert units == ("CausalSelfAttentionLayer", "PrefixCrossAttentionLayer")
    assert fsdp_plan(model, units) == {
        "model.perceiver.cross_attention": "free_full_weight",
        "model.perceiver.self_attention.*": "free_full_weight",
    }
