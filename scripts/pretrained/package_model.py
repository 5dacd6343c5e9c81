"""Put a trained perceiver-bytes-small into the package: weights, tokenizer, evaluation and model card.

    python scripts/pretrained/package_model.py outputs/perceiver-bytes-small

1. loads the `perceiver-hf train` output folder and saves model (fp32 safetensors) and tokenizer into
   src/perceiver_hf/pretrained/perceiver-bytes-small/ (nothing else from the run: no optimizer state);
2. runs scripts/pretrained/evaluate.py on the packaged copy -> scripts/pretrained/results.json;
3. renders the model card template `perceiver-bytes-small` (perceiver_hf.model_cards) into README.md there,
   with the corpus manifest (prepare_corpus.py), the run's trainer_state.json and the evaluation results.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any, Dict, List, Optional

from transformers import AutoModelForMaskedLM, AutoTokenizer

import perceiver_hf
from perceiver_hf.model_cards import render_model_card
from perceiver_hf.training.parsing import read_config_file

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
MODEL_NAME = "perceiver-bytes-small"
PACKAGE_DIR = REPO / "src" / "perceiver_hf" / "pretrained" / MODEL_NAME
RESULTS = HERE / "results.json"
MANIFEST = HERE / "data" / "manifest.json"
TRAIN_CONFIG = HERE / "train_config.yaml"
TRAIN_SCRIPT = HERE / "train.sh"
CARD_REMARK = HERE / "card_remark.md"  # what the figures mean, after the span-filling examples
EVALUATION_COMMAND = f"python scripts/pretrained/evaluate.py --json {RESULTS.relative_to(REPO)}"


def save_into_package(trained_dir: Path, package_dir: Path) -> Any:
    """Load the trained model and tokenizer and save them (only them) into `package_dir`; returns the model."""
    model = AutoModelForMaskedLM.from_pretrained(trained_dir)
    tokenizer = AutoTokenizer.from_pretrained(trained_dir)
    if package_dir.exists():
        shutil.rmtree(package_dir)
    model.save_pretrained(package_dir)
    tokenizer.save_pretrained(package_dir)
    for path in package_dir.iterdir():
        path.chmod(0o644)  # safetensors writes 0600; package data should be world-readable
    return model


def describe_architecture(config: Any) -> str:
    return (
        f"{config.max_seq_len} bytes -> {config.num_latents} latents x {config.num_latent_channels} channels, "
        f"{config.num_self_attention_layers_per_block} latent self-attention layers "
        f"(MLP widening {config.self_attention_widening_factor}), input and query width "
        f"{config.num_input_channels}, {config.num_self_attention_heads} heads"
    )


def training_data_text(manifest: Dict[str, Any]) -> str:
    files = manifest["files"]
    return (
        f"Training text: the prose of the Python {manifest['source_package_version'].split('-')[0]} documentation as "
        f"packaged by Debian (`apt-get install python3-doc`: {manifest['source']}, package version "
        f"{manifest['source_package_version']}). License of the text: {manifest['license']} "
        f"`scripts/pretrained/prepare_corpus.py` keeps the `<p>` paragraphs of each page's body (no code blocks, "
        f"tables, signatures or navigation), normalises whitespace and deduplicates; {manifest['heldout_pages']} of "
        f"{manifest['pages']} pages (chosen by a hash of their path) are held out. Training split: "
        f"{files['train']['paragraphs']:,} paragraphs, {files['train']['bytes']:,} bytes (sha256 "
        f"`{files['train']['sha256'][:16]}...`); held-out split: {files['heldout']['paragraphs']:,} paragraphs, "
        f"{files['heldout']['bytes']:,} bytes (sha256 `{files['heldout']['sha256'][:16]}...`)."
    )


def training_command(train_script: Path = TRAIN_SCRIPT) -> str:
    """The `perceiver-hf train` line of train.sh (without its `"$@"`), so the card shows the command that ran."""
    lines = [line for line in train_script.read_text(encoding="utf-8").splitlines() if "perceiver-hf train" in line]
    if len(lines) != 1 or not lines[0].startswith("OMP_NUM_THREADS="):
        raise ValueError(f"{train_script} should hold one 'OMP_NUM_THREADS=N perceiver-hf train ...' line.")
    return lines[0].replace(' "$@"', "").strip()


def training_threads(command: str) -> int:
    """N of the command's `OMP_NUM_THREADS=N`."""
    return int(command.split()[0].split("=", 1)[1])


def evaluation_history_text(log_history: List[Dict[str, Any]]) -> str:
    """The run's own held-out evaluations (Trainer's eval_accuracy entries) as one sentence; '' if it made none."""
    points = [f"{entry['eval_accuracy']:.1%} at step {entry['step']:,}" for entry in log_history if "eval_accuracy" in entry]
    if not points:
        return ""
    return (
        " Masked-byte accuracy of the run's own evaluation during training (held-out chunks, the training "
        f"masking with its 80/10/10 replacement): {', '.join(points)}."
    )


def training_procedure_text(
    trained_dir: Path, train_config: Dict[str, Any], command: str, train_minutes: Optional[float] = None
) -> str:
    """Describe the run from its arguments (train_config.yaml), its `command` (train.sh) and its trainer_state.json.

    `trained_dir` may be a checkpoint of the run (`checkpoint-N`): the card then says which step of the schedule
    the weights come from; a checkpoint records no run time, so `train_minutes` supplies it.
    """
    state = json.loads((trained_dir / "trainer_state.json").read_text(encoding="utf-8"))
    train_logs = [entry for entry in state["log_history"] if "loss" in entry]
    summary = next((entry for entry in state["log_history"] if "train_runtime" in entry), None)
    minutes = summary["train_runtime"] / 60 if summary else train_minutes
    c = train_config
    num_threads = training_threads(command)
    threads = "one thread" if num_threads == 1 else f"{num_threads} threads"
    steps = f"{state['global_step']:,} steps ({state['epoch']:.2f} epochs)"
    if state["global_step"] < c["max_steps"]:
        steps = (
            f"the checkpoint after {steps} of the run's {c['max_steps']:,} (learning rate by then "
            f"{train_logs[-1]['learning_rate']:.2g}, {train_logs[-1]['learning_rate'] / c['learning_rate']:.0%} of its peak)"
        )
    return (
        f"Masked language modelling from random initialisation with `perceiver-hf train` (transformers `Trainer`): "
        f"{c['masking'].replace('_', '-')} masking of {c['mlm_probability']:.0%} of the words (a word = its bytes and "
        f"the space before it; 80% [MASK], 10% random byte, 10% unchanged), the decoder querying only the masked "
        f"positions, chunks of {c['max_seq_len']} bytes, batch {c['per_device_train_batch_size']}, AdamW (lr "
        f"{c['learning_rate']:g}, {c['lr_scheduler_type']} schedule over {c['max_steps']:,} steps, {c['warmup_steps']} "
        f"warm-up steps, weight decay {c['weight_decay']:g}, beta2 {c['adam_beta2']:g}), seed {c['seed']}; the weights "
        f"are {steps}{f', {minutes:.0f} min' if minutes else ''} on {threads} of a 2-core CPU machine with no GPU. "
        f"Training loss (nats per masked byte): {train_logs[0]['loss']:.2f} at step {train_logs[0]['step']}, "
        f"{train_logs[-1]['loss']:.2f} at step {train_logs[-1]['step']:,}."
        f"{evaluation_history_text(state['log_history'])} Weights are stored in float32."
    )


def evaluation_examples_text(examples: List[Dict[str, str]]) -> str:
    rows = ["| masked text | span | prediction |", "|---|---|---|"]
    for example in examples:
        masked = example["sentence"].replace(example["span"], " " + "▯" * len(example["span"].strip()), 1)
        rows.append(f"| {masked} | `{example['span']!s}` | `{example['prediction']}` |")
    return "Span filling (one `[MASK]` per byte of the span, shown as ▯ after its space; greedy, one forward pass):\n\n" + "\n".join(rows)


def package_command(args: argparse.Namespace) -> str:
    """This script's command line as the card shows it (paths relative to the repository)."""
    trained_dir = args.trained_dir.resolve()
    shown = trained_dir.relative_to(REPO) if trained_dir.is_relative_to(REPO) else args.trained_dir
    return f"python scripts/pretrained/package_model.py {shown}" + (
        f" --train-minutes {args.train_minutes:g}" if args.train_minutes else ""
    )


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("trained_dir", type=Path, help="output_dir of the training run")
    parser.add_argument(
        "--remark-file", type=Path, default=CARD_REMARK, help="text for the card after the span-filling examples"
    )
    parser.add_argument("--train-minutes", type=float, default=None, help="run time up to a checkpoint, for the card")
    parser.add_argument("--eval-max-chars", type=int, default=None, help="evaluate on less text (quick checks)")
    args = parser.parse_args(argv)
    if not (args.trained_dir / "trainer_state.json").is_file():
        print(f"error: {args.trained_dir} is not a `perceiver-hf train` output or checkpoint folder.", file=sys.stderr)
        return 2
    if not MANIFEST.is_file():
        print(f"error: {MANIFEST} is missing; run scripts/pretrained/prepare_corpus.py first.", file=sys.stderr)
        return 2

    command = training_command()
    remark = args.remark_file.read_text(encoding="utf-8").strip()
    model = save_into_package(args.trained_dir, PACKAGE_DIR)
    evaluate = [sys.executable, str(HERE / "evaluate.py"), "--model", str(PACKAGE_DIR), "--json", str(RESULTS)]
    if args.eval_max_chars:
        evaluate += ["--max-chars", str(args.eval_max_chars)]
    subprocess.run(evaluate, check=True)
    results = json.loads(RESULTS.read_text(encoding="utf-8"))
    manifest = json.loads(MANIFEST.read_text(encoding="utf-8"))
    card = render_model_card(
        MODEL_NAME,
        license="apache-2.0",
        dataset="python-3.11-documentation",
        eval_accuracy=results["masked_byte_accuracy"],
        eval_masked_bytes=f"{results['masked_bytes']:,}",
        num_parameters=f"{model.num_parameters():,}",
        architecture=describe_architecture(model.config),
        max_seq_len=model.config.max_seq_len,
        model_path=f"src/perceiver_hf/pretrained/{MODEL_NAME}",
        exported_model_path=f"{MODEL_NAME}-hub",
        training_data=training_data_text(manifest),
        training_procedure=training_procedure_text(args.trained_dir, read_config_file(TRAIN_CONFIG), command, args.train_minutes),
        perceiver_hf_version=perceiver_hf.__version__,
        training_command="\n".join([
            "python scripts/pretrained/prepare_corpus.py --sample-file tests/data/heldout_sample.txt",
            command,
            package_command(args),
        ]),
        evaluation_data=(
            f"Held-out split ({results['heldout_chars']:,} characters, {results['chunks']:,} chunks of up to "
            f"{model.config.max_seq_len} bytes): "
            f"15% of the words masked (seed {results['seed']}), every byte of a masked word replaced by `[MASK]`, "
            f"accuracy = share of masked bytes whose most likely byte is the original one "
            f"(`perceiver_hf.pretrained.evaluation.masked_byte_accuracy`). Mean cross-entropy "
            f"{results['masked_byte_nll']:.3f} nats per masked byte."
        ),
        evaluation_examples=evaluation_examples_text(results["examples"]) + (f"\n\n{remark}" if remark else ""),
        evaluation_command=EVALUATION_COMMAND,
    )
    (PACKAGE_DIR / "README.md").write_text(card, encoding="utf-8")
    print(f"Packaged {MODEL_NAME} into {PACKAGE_DIR}: accuracy {results['masked_byte_accuracy']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
