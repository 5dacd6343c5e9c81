"""Fine-tune the real classification heads on the Python docs tasks: from `perceiver-bytes-small` and from scratch.

Four runs of `perceiver-hf train` (`run_from_argv`, the CLI's own code path), one per task x start, with the
same budget: `--steps` steps of batch `--batch-size`, AdamW at `--learning-rate` with `--warmup-steps` of linear
warmup then linear decay, the first 64 bytes of every paragraph (the shipped model's max_seq_len), seed `--seed`:

- sequence: `--task text-classification` on sequence/{train,heldout}.jsonl (`label`: part of the docs);
- token: `--task token-classification` on token/{train,heldout}.jsonl (`labels`: one BIO tag per UTF-8 byte);
- `shipped`: `--model_name_or_path` the shipped `perceiver-bytes-small` (only the classifier is new);
- `scratch`: `--config_name` the same folder (the same architecture) with random weights.

The saved model is then scored on the held-out pages once, with the CLI's own pieces (its `encode_split`, its
collators, `Trainer.predict`, and `classification_metrics`, the `compute_metrics` of `--validation_file`):
accuracy and macro-F1; token task: byte accuracy, token macro-F1, seqeval-style entity F1, and the code-byte F1
(B- or I-CODE vs O); on all held-out pages and on those the shipped model never read in pretraining
(`pretraining_heldout`). The baselines are scored on the same first 64 bytes (python_docs_baselines.py's
majority / all-O and logistic regressions, on the paragraphs cut to 64 bytes). One thread (two threads on a
shared 2-core machine spin: 7x slower per step here). Writes `--output` (JSON):

    nice python benchmarks/python_docs_finetune.py outputs/python-docs-task
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Dict, List, Sequence

import numpy as np
import torch
from datasets import Dataset
from python_docs_baselines import read_jsonl, sequence_baselines, token_baselines
from transformers import (
    AutoModelForSequenceClassification,
    AutoModelForTokenClassification,
    AutoTokenizer,
    DataCollatorForTokenClassification,
    DataCollatorWithPadding,
    EvalPrediction,
    Trainer,
    TrainingArguments,
)

from perceiver_hf.pretrained import pretrained_model_path
from perceiver_hf.training.classification_data import encode_split
from perceiver_hf.training.classification_metrics import classification_metrics
from perceiver_hf.training.run import run_from_argv

MAX_LEN = 64
TASKS = {"sequence": ("text-classification", "label"), "token": ("token-classification", "labels")}
STARTS = ("shipped", "scratch")
REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "benchmarks" / "results" / "python_docs_finetune.json"


def train_argv(data_dir: Path, task: str, start: str, output_dir: Path, args: argparse.Namespace) -> List[str]:
    """The `perceiver-hf train` arguments of one run."""
    cli_task, label_column = TASKS[task]
    shipped = str(pretrained_model_path())
    model = ["--model_name_or_path", shipped]
    if start == "scratch":  # the same config, random weights
        model = ["--config_name", shipped, "--tokenizer_name", "byte"]
    return [
        "--task", cli_task, *model, "--train_file", str(data_dir / task / "train.jsonl"),
        "--validation_split_percentage", "0", "--text_column", "text",
        "--label_column", label_column, "--max_seq_len", str(MAX_LEN), "--max_steps", str(args.steps),
        "--per_device_train_batch_size", str(args.batch_size),
        "--learning_rate", str(args.learning_rate), "--lr_scheduler_type", "linear",
        "--warmup_steps", str(args.warmup_steps), "--seed", str(args.seed), "--logging_steps", "25",
        "--save_strategy", "no", "--report_to", "none", "--disable_tqdm", "true", "--output_dir", str(output_dir),
        "--force",
    ]  # fmt: skip


def predict(folder: Path, rows: List[dict], task: str) -> EvalPrediction:
    """Logits and labels of the model saved in `folder` on `rows`, encoded as the CLI encodes them."""
    cli_task, label_column = TASKS[task]
    auto = AutoModelForSequenceClassification if task == "sequence" else AutoModelForTokenClassification
    model, tokenizer = auto.from_pretrained(folder), AutoTokenizer.from_pretrained(folder)
    names = [model.config.id2label[i] for i in range(model.config.num_labels)]
    data = encode_split(Dataset.from_list(rows), "heldout", tokenizer, "text", label_column, names, cli_task, MAX_LEN)
    collator = (DataCollatorWithPadding if task == "sequence" else DataCollatorForTokenClassification)(tokenizer)
    with tempfile.TemporaryDirectory(prefix="python-docs-predict-") as scratch:
        arguments = TrainingArguments(scratch, per_device_eval_batch_size=128, report_to="none", disable_tqdm=True)
        output = Trainer(model=model, args=arguments, data_collator=collator).predict(data)
    return EvalPrediction(predictions=output.predictions, label_ids=output.label_ids)


def code_byte_f1(prediction: EvalPrediction, code_ids: Sequence[int]) -> float:
    """F1 of "this byte is code" (B- or I-CODE predicted vs true) over every scored byte."""
    labels = np.asarray(prediction.label_ids)
    scored = labels != -100
    predicted = np.isin(np.asarray(prediction.predictions).argmax(-1)[scored], code_ids)
    actual = np.isin(labels[scored], code_ids)
    return float(2 * (predicted & actual).sum() / max(1, predicted.sum() + actual.sum()))


def scores(prediction: EvalPrediction, names: Sequence[str], task: str) -> Dict[str, float]:
    """The package's metrics of `prediction` (token task: plus code-byte F1 and the all-O byte accuracy)."""
    metrics = classification_metrics(TASKS[task][0], names)(prediction)
    if task == "token":
        metrics["code_byte_f1"] = code_byte_f1(prediction, [i for i, name in enumerate(names) if name != "O"])
        labels = np.asarray(prediction.label_ids)
        metrics["all_O_accuracy"] = float((labels[labels != -100] == list(names).index("O")).mean())
    return metrics


def rows_of(prediction: EvalPrediction, keep: np.ndarray) -> EvalPrediction:
    """The rows of `prediction` where `keep` is true."""
    return EvalPrediction(predictions=np.asarray(prediction.predictions)[keep], label_ids=prediction.label_ids[keep])


def cut(rows: List[dict], max_len: int = MAX_LEN) -> List[dict]:
    """`rows` with the text cut to its first `max_len` UTF-8 bytes (a split character dropped), tags to match."""
    out = []
    for row in rows:
        text = row["text"].encode("utf-8")[:max_len].decode("utf-8", errors="ignore")
        tags = {"labels": row["labels"][: len(text.encode("utf-8"))]} if "labels" in row else {}
        out.append({**row, "text": text, **tags})
    return out


def prefix_baselines(data_dir: Path) -> Dict[str, Any]:
    """python_docs_baselines.py's baselines, trained and scored on the paragraphs' first MAX_LEN bytes."""
    splits = {task: [cut(read_jsonl(data_dir / task / f"{s}.jsonl")) for s in ("train", "heldout")] for task in TASKS}
    return {"sequence": sequence_baselines(*splits["sequence"]), "token": token_baselines(*splits["token"])}


def pretraining_heldout(data_dir: Path) -> np.ndarray:
    """[N] bool: which held-out paragraphs come from pages the shipped model never read (sequence/*.jsonl marks
    them; the token file holds the same paragraphs in the same order)."""
    return np.array([row["pretraining_heldout"] for row in read_jsonl(data_dir / "sequence" / "heldout.jsonl")])


def one_run(data_dir: Path, task: str, start: str, work: Path, args: argparse.Namespace) -> Dict[str, Any]:
    """Train one task x start through the CLI, then score it on the held-out pages; with the run times."""
    output_dir = work / f"{task}-{start}"
    argv = train_argv(data_dir, task, start, output_dir, args)
    began = time.perf_counter()
    cli = run_from_argv(argv)
    trained = time.perf_counter()
    rows = read_jsonl(data_dir / task / "heldout.jsonl")
    prediction = predict(output_dir, rows, task)
    config = json.loads((output_dir / "config.json").read_text())
    names = [config["id2label"][str(i)] for i in range(len(config["id2label"]))]
    return {
        "argv": [value.replace(f"{REPO}/", "") for value in argv],  # the shipped model's path, repository-relative
        "train_seconds": round(trained - began, 1),
        "eval_seconds": round(time.perf_counter() - trained, 1),
        "train_loss": cli.get("train_loss"),
        "heldout": scores(prediction, names, task),
        "pretraining_heldout": scores(rows_of(prediction, pretraining_heldout(data_dir)), names, task),
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("data_dir", type=Path, help="--output-dir of scripts/tasks/prepare_python_docs_task.py")
    parser.add_argument("--steps", type=int, default=500)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--learning-rate", type=float, default=3e-4)
    parser.add_argument("--warmup-steps", type=int, default=50)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--tasks", nargs="+", choices=list(TASKS), default=list(TASKS))
    parser.add_argument("--starts", nargs="+", choices=list(STARTS), default=list(STARTS))
    parser.add_argument("--work-dir", type=Path, help="where the runs' folders go (default: a temporary folder)")
    parser.add_argument("--output", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory(prefix="python-docs-finetune-") as temporary:
        work = args.work_dir or Path(temporary)
        runs = {
            f"{task}/{start}": one_run(args.data_dir, task, start, work, args)
            for task in args.tasks
            for start in args.starts
        }
    settings = {key: getattr(args, key) for key in ("steps", "batch_size", "learning_rate", "warmup_steps", "seed")}
    results = {
        "settings": {**settings, "max_seq_len": MAX_LEN, "torch_threads": 1},
        "baselines_first_64_bytes": prefix_baselines(args.data_dir),
        "runs": runs,
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(results, indent=2) + "\n")
    print(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
