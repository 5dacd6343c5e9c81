"""`perceiver-hf classify MODEL TEXT...`: label texts (sequence classifier) or their tokens (token classifier).

    perceiver-hf classify ./my-classifier "first text" "second text" [--top-k 2] [--json]
    perceiver-hf classify ./my-ner "Ada Lovelace wrote in London." [--stride 32] [--json]

A `PerceiverForSequenceClassification` folder gives the top-k labels of each text (transformers'
"text-classification" pipeline, texts longer than the model truncated with a logged note); a
`PerceiverForTokenClassification` folder gives labelled spans (transformers' "token-classification" pipeline,
aggregation "simple": neighbouring tokens of one label form a span; a text longer than the model is read in
overlapping windows of `--stride` tokens). Bad input is one line on stderr,
exit code 2; a masked-LM folder is named as such, with the command that fills its masks.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any, Optional

from .fill import FillError

COMMAND = "classify"
HEADS = {
    "PerceiverForSequenceClassification": "text-classification",
    "PerceiverForTokenClassification": "token-classification",
}


class ClassifyError(FillError):
    """A user error of `perceiver-hf classify`: printed as one message, exit code 2."""


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add the `classify` subcommand to the `perceiver-hf` parser."""
    parser = subparsers.add_parser(
        COMMAND,
        help="label texts (or their tokens) with a sequence or token classifier",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("model", metavar="MODEL", help="a classifier folder (perceiver-hf train --task ...) or Hub id")
    parser.add_argument("texts", nargs="+", metavar="TEXT", help="texts to classify")
    parser.add_argument("--revision", default=None, help="Hub branch, tag or commit of MODEL")
    parser.add_argument("--top-k", type=int, default=1, help="labels per text (sequence classifiers; default 1)")
    parser.add_argument(
        "--stride", type=int, default=None,
        help="token classifiers: overlap, in tokens, of the windows a text longer than the model is read in "
        "(default: a quarter of max_seq_len)",
    )
    parser.add_argument("--batch-size", type=int, default=8, help="texts per forward pass (default 8)")
    parser.add_argument("--json", action="store_true", help="print the pipeline's results as JSON")
    parser.set_defaults(func=run, precheck=precheck)
    return parser


def _check_arguments(args: argparse.Namespace) -> Optional[str]:
    """Checks that need no model; returns the task a local folder's config names (None for a Hub id)."""
    from ..model_location import ModelSourceError, check_model_source, resolve_shipped_model, saved_architecture

    if args.top_k < 1:
        raise ClassifyError(f"--top-k must be at least 1, got {args.top_k}.")
    if args.batch_size < 1:
        raise ClassifyError(f"--batch-size must be at least 1, got {args.batch_size}.")
    if args.stride is not None and args.stride < 0:
        raise ClassifyError(f"--stride must be 0 or more tokens, got {args.stride}.")
    args.model = resolve_shipped_model(args.model)
    try:
        check_model_source(args.model, args.revision)
    except ModelSourceError as error:
        raise ClassifyError(str(error)) from error
    architecture = saved_architecture(args.model)
    if architecture is None:
        return None
    if architecture not in HEADS:
        hint = (
            f'fill its masks with: perceiver-hf fill {args.model} "a text with [MASK]"'
            if architecture == "PerceiverForMaskedLM"
            else "train a classifier from it with: perceiver-hf train --task text-classification ..."
        )
        raise ClassifyError(f"{args.model} holds a {architecture}, not a classifier; {hint}")
    return HEADS[architecture]


def precheck(args: argparse.Namespace) -> int:
    """Check the arguments and a local MODEL before torch and transformers are imported (0: fine)."""
    try:
        _check_arguments(args)
    except ClassifyError as error:
        print(f"perceiver-hf {COMMAND}: error: {error}", file=sys.stderr)
        return 2
    return 0


def _classifier_pipeline(args: argparse.Namespace, task: Optional[str]) -> Any:
    """The pipeline of the classifier in `args.model`, loaded strictly by perceiver-hf's own class."""
    from transformers import AutoTokenizer, pipeline

    from .. import PerceiverForSequenceClassification, PerceiverForTokenClassification
    from .fill import load_part

    classes = {"text-classification": PerceiverForSequenceClassification,
               "token-classification": PerceiverForTokenClassification}
    if task is None:  # a Hub id: the config says which head it is
        from transformers import AutoConfig

        config = load_part(args.model, args.revision, "config", lambda: AutoConfig.from_pretrained(
            args.model, revision=args.revision))
        task = HEADS.get((config.architectures or [None])[0])
        if task is None:
            raise ClassifyError(f"{args.model} holds a {config.architectures}, not a Perceiver IO classifier.")
    model = load_part(args.model, args.revision, "model", lambda: classes[task].from_pretrained(
        args.model, revision=args.revision))
    tokenizer = load_part(args.model, args.revision, "tokenizer", lambda: AutoTokenizer.from_pretrained(
        args.model, revision=args.revision))
    options: dict[str, Any] = {}
    if task == "token-classification":
        stride = args.stride if args.stride is not None else model.config.max_seq_len // 4
        if stride >= model.config.max_seq_len:
            raise ClassifyError(f"--stride {stride} must be below the model's max_seq_len ({model.config.max_seq_len}).")
        options = {"stride": stride, "aggregation_strategy": "simple"}
    return pipeline(task, model=model, tokenizer=tokenizer, **options), task


def run(args: argparse.Namespace) -> int:
    """Entry point of `perceiver-hf classify`; returns the exit code."""
    try:
        task = _check_arguments(args)
        classifier, task = _classifier_pipeline(args, task)
        if task == "text-classification":
            k = min(args.top_k, classifier.model.config.num_labels)
            results = classifier(args.texts, top_k=k, truncation=True, batch_size=args.batch_size)
        else:
            results = classifier(args.texts, batch_size=args.batch_size)
    except FillError as error:  # ClassifyError, and the loading errors of fill's load_part
        print(f"perceiver-hf {COMMAND}: error: {error}", file=sys.stderr)
        return 2
    results = [[_plain(row) for row in rows] for rows in results]
    if args.json:
        print(json.dumps(results, ensure_ascii=False, indent=2))
        return 0
    for text, rows in zip(args.texts, results):
        print(text)
        for row in rows:
            if task == "text-classification":
                print(f"  {row['label']} ({row['score']:.3f})")
            else:
                span, label = text[row["start"] : row["end"]], row.get("entity_group", row.get("entity"))
                print(f"  [{row['start']}:{row['end']}] {span!r} {label} ({row['score']:.3f})")
    return 0


def _plain(row: dict[str, Any]) -> dict[str, Any]:
    """A pipeline result row with plain Python numbers (numpy floats and ints are not JSON)."""
    return {key: value.item() if hasattr(value, "item") else value for key, value in row.items()}


__all__ = ["ClassifyError", "add_parser", "precheck", "run"]
