"""The model card (README.md) `perceiver-hf train` writes into output_dir.

References, all independent of the card writer: the run's own all_results.json and trainer_state.json, the saved
model's parameters counted by torch, the argv the run was given, a second evaluation-only run started from the
command the card prints, and (for metadata that needs the Hub) a hand-built offline Hub cache.
"""

from __future__ import annotations

import ast
import json
import re
import shlex
import shutil
from pathlib import Path
from types import SimpleNamespace

import huggingface_hub.constants
import pytest
from helpers.hub import add_snapshot
from huggingface_hub import ModelCard
from transformers import AutoModelForMaskedLM, TrainerState

from perceiver_hf import PerceiverForMaskedLM
from perceiver_hf.tokenization_perceiver import PerceiverByteTokenizer
from perceiver_hf.training.training_card import render_training_card
from perceiver_hf.training.parsing import parse_train_args
from perceiver_hf.training.presets import build_preset
from perceiver_hf.training.run import run_from_argv
from perceiver_hf.training.run_command import RunCommand
from test_model_cards import python_blocks
from test_train_run import DATA, short_run_args

EXTRA = ("--validation_split_percentage", "20", "--card_license", "apache-2.0", "--save_strategy", "no")


def card_of(output_dir: Path) -> ModelCard:
    return ModelCard.load(output_dir / "README.md")


def metrics_in_model_index(card: ModelCard) -> dict[str, float]:
    return {result.metric_type: result.metric_value for result in card.data.eval_results or []}


def bash_block_after(text: str, marker: str) -> str:
    return re.search(re.escape(marker) + r".*?```bash\n(.*?)\n```", text, flags=re.DOTALL).group(1)


@pytest.fixture(scope="module")
def scratch_run(tmp_path_factory) -> tuple[Path, list[str]]:
    """A tiny model trained from scratch for 6 steps, evaluated on the held-out first 20% of the records."""
    output_dir = tmp_path_factory.mktemp("card-runs") / "tiny-scratch"
    argv = short_run_args(output_dir, *EXTRA)
    run_from_argv(argv)
    return output_dir, argv


def test_trained_model_card_metadata_and_figures_come_from_the_run(scratch_run) -> None:
    output_dir, argv = scratch_run
    card = card_of(output_dir)
    results = json.loads((output_dir / "all_results.json").read_text())
    state = json.loads((output_dir / "trainer_state.json").read_text())
    data = card.data
    assert (data.license, data.pipeline_tag, data.library_name) == ("apache-2.0", "fill-mask", "transformers")
    assert data.base_model is None and data.datasets is None  # from scratch, on local files
    assert {"perceiver-io", "byte-level"} <= set(data.tags)
    assert metrics_in_model_index(card) == {
        "accuracy": results["eval_accuracy"], "perplexity": results["eval_perplexity"]
    }  # fmt: skip
    assert {(r.dataset_type, r.dataset_split) for r in data.eval_results} == {("text", "validation")}
    text = card.text
    assert f"| masked-token accuracy | {results['eval_accuracy']:.4f} |" in text
    assert f"| perplexity of the masked tokens | {results['eval_perplexity']:.2f} |" in text
    assert f"| masked tokens scored | {results['eval_masked_tokens']:,} |" in text
    assert f"{state['global_step']} optimisation steps" in text
    model = AutoModelForMaskedLM.from_pretrained(output_dir)
    assert f"| parameters | {sum(p.numel() for p in model.parameters()):,} |" in text
    assert bash_block_after(text, "The run, with perceiver-hf") == shlex.join(["perceiver-hf", "train", *argv])
    assert "trained from scratch" in text and "`tiny` preset" in text


def test_the_cards_evaluation_command_reproduces_its_figures(scratch_run, tmp_path) -> None:
    output_dir, _ = scratch_run
    card = card_of(output_dir)
    command = shlex.split(bash_block_after(card.text, "To evaluate the saved model again"))
    assert command[:2] == ["perceiver-hf", "train"] and "--do_eval" in command
    argv = command[2:]
    argv[argv.index("--output_dir") + 1] = str(tmp_path / "evaluation")
    metrics = run_from_argv([*argv, "--cache_dir", str(tmp_path / "cache")])
    assert {"accuracy": metrics["eval_accuracy"], "perplexity": metrics["eval_perplexity"]} == pytest.approx(
        metrics_in_model_index(card), rel=1e-9
    )


def test_the_cards_usage_snippet_runs(scratch_run, capsys) -> None:
    (snippet,) = python_blocks(card_of(scratch_run[0]).text)
    exec(compile(ast.parse(snippet), "<trained card usage>", "exec"), {"__name__": "__card__"})
    assert "'sequence': 'The capital of France is " in capsys.readouterr().out  # fill-mask predictions


def test_fine_tuning_a_hub_model_names_it_as_base_model(scratch_run, tmp_path, monkeypatch) -> None:
    """Fine-tune `someone/tiny-base` from an offline Hub cache: base_model and the license come from it."""
    base = tmp_path / "base"
    base.mkdir()
    for path in scratch_run[0].iterdir():  # the model, its tokenizer and its card (license apache-2.0)
        if path.suffix in (".json", ".safetensors", ".md") and "results" not in path.name and "state" not in path.name:
            shutil.copy(path, base / path.name)
    add_snapshot(tmp_path / "cache", "someone/tiny-base", "main", base)
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    output_dir = tmp_path / "fine-tuned"
    run_from_argv([
        "--model_name_or_path", "someone/tiny-base", "--cache_dir", str(tmp_path / "cache"),
        "--train_file", str(DATA / "gettysburg_address.txt"), "--validation_split_percentage", "20",
        "--max_seq_len", "64", "--output_dir", str(output_dir), "--max_steps", "2",
        "--per_device_train_batch_size", "2", "--save_strategy", "no", "--disable_tqdm", "true",
    ])  # fmt: skip
    card = card_of(output_dir)
    results = json.loads((output_dir / "all_results.json").read_text())
    assert card.data.base_model == "someone/tiny-base"
    assert card.data.license == "apache-2.0"  # the base model's card's, no --card_license given
    assert card.data.datasets is None
    assert metrics_in_model_index(card) == {
        "accuracy": results["eval_accuracy"], "perplexity": results["eval_perplexity"]
    }  # fmt: skip
    assert "fine-tuned from [`someone/tiny-base`](https://huggingface.co/someone/tiny-base)" in card.text


def test_hub_dataset_and_config_file_are_recorded(tmp_path) -> None:
    """A run on a Hub dataset, from a YAML config file (rendered from a finished-run stand-in: no Hub access)."""
    config_file = tmp_path / "train.yaml"
    config_file.write_text("preset: tiny\ndataset_name: someone/corpus\ndataset_config_name: en\nmasking: whole_word\n")
    argv = [str(config_file), "--output_dir", str(tmp_path / "out"), "--seed", "7"]
    arguments = parse_train_args(argv)
    evaluation = {"eval_loss": 5.0, "eval_nll": 4.9, "eval_accuracy": 0.25, "eval_perplexity": 134.29, "step": 3}
    history = [{"loss": 5.5, "step": 1}, evaluation]
    trainer = SimpleNamespace(
        model=PerceiverForMaskedLM(build_preset("tiny", vocab_size=262)),
        processing_class=PerceiverByteTokenizer(),
        args=arguments.training,
        state=TrainerState(global_step=3, epoch=1.0, max_steps=3, log_history=history),
        train_dataset=[None] * 12,
        eval_dataset=[None] * 2,
    )
    card = ModelCard(render_training_card(trainer, arguments, RunCommand.from_argv(argv)))
    assert card.data.datasets == ["someone/corpus"] and card.data.license == "unknown"
    assert {(r.dataset_type, r.dataset_config) for r in card.data.eval_results} == {("someone/corpus", "en")}
    assert metrics_in_model_index(card) == {"accuracy": 0.25, "perplexity": 134.29}
    assert config_file.read_text().strip() in card.text  # the config file's contents, not only its name
    evaluation_argv = shlex.split(bash_block_after(card.text, "To evaluate the saved model again"))
    for flag, value in [("--dataset_name", "someone/corpus"), ("--dataset_config_name", "en"), ("--seed", "7"),
                        ("--masking", "whole_word")]:  # fmt: skip
        assert evaluation_argv[evaluation_argv.index(flag) + 1] == value
    # started through the Python API (no command line): the card shows the equivalent arguments
    api_command = bash_block_after(render_training_card(trainer, arguments), "The run, with perceiver-hf")
    assert api_command.startswith("perceiver-hf train --preset tiny --dataset_name someone/corpus")
    assert parse_train_args(shlex.split(api_command, comments=True)[2:]).data.dataset_config_name == "en"


def test_an_empty_card_license_is_refused(tmp_path) -> None:
    with pytest.raises(ValueError, match="--card_license is empty"):
        parse_train_args(short_run_args(tmp_path / "out", "--card_license", " "))
