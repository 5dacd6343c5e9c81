"""`perceiver-hf fill MODEL TEXT [TEXT ...]`: fill the masks of texts with a masked language model.

By default every mask is filled greedily with the "fill-mask-spans" pipeline (one byte per [MASK] for byte
models), printing the filled text and each predicted span. `--top-k K` (or `--mode fill-mask`) runs transformers'
"fill-mask" pipeline instead and prints the K best tokens for each mask. Examples: `perceiver-hf fill --help`.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any, Callable, Optional

from ..model_location import (
    ModelSourceError,
    check_model_source,
    is_hub_id,
    looks_like_path,
    resolve_shipped_model,
    saved_architecture,
)

SPANS_MODE = "spans"
FILL_MASK_MODE = "fill-mask"
DEFAULT_TOP_K = 5
FLOAT32 = "float32"
BFLOAT16 = "bfloat16"
_EXAMPLES = """examples:
  perceiver-hf fill "This is an incomplete sentence where some words are missing." --mask " missing"
  perceiver-hf fill ./my-model "Some words are[MASK][MASK][MASK][MASK][MASK][MASK][MASK][MASK][MASK]"
  perceiver-hf fill ./my-model "Some words are missing." --mask " missing."
  perceiver-hf fill ./my-model "Some words are m[MASK]ssing." --top-k 5
  perceiver-hf fill user/model --revision main "First text [MASK]" "Second [MASK] text" --json"""


class FillError(Exception):
    """A user error of `perceiver-hf fill`: printed as one message, exit code 2."""


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add the `fill` subcommand to the `perceiver-hf` parser."""
    parser = subparsers.add_parser(
        "fill",
        help="fill [MASK] tokens of texts with a masked language model",
        description="Fill the [MASK] tokens of texts with a masked language model.\n"
        "Byte models predict one byte per [MASK]: write as many masks as the word has\n"
        "UTF-8 bytes, or let --mask WORD do it.",
        epilog=_EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "model",
        nargs="?",
        metavar="MODEL",
        help="model folder (save_pretrained output with tokenizer) or Hugging Face Hub id "
        "(default: perceiver-bytes-small, the small model shipped with the package)",
    )
    parser.add_argument("texts", nargs="*", metavar="TEXT", help="texts with [MASK] tokens to fill")
    parser.add_argument("--revision", default=None, help="Hub branch, tag or commit of MODEL")
    parser.add_argument(
        "--mask",
        metavar="WORD",
        default=None,
        help="mask the first occurrence of WORD in each text, one [MASK] per UTF-8 byte (for byte models)",
    )
    parser.add_argument(
        "--mode",
        choices=[SPANS_MODE, FILL_MASK_MODE],
        default=None,
        help=f"'{SPANS_MODE}' (default): fill every mask greedily; '{FILL_MASK_MODE}': transformers' fill-mask "
        "pipeline, the top-k tokens for each mask",
    )
    parser.add_argument(
        "--top-k",
        type=int,
        default=None,
        help=f"number of candidates per mask (implies --mode {FILL_MASK_MODE}; default {DEFAULT_TOP_K})",
    )
    parser.add_argument("--batch-size", type=int, default=8, help="texts per forward pass (default 8)")
    parser.add_argument("--device", default=None, help="torch device, e.g. cpu or cuda:0 (default: cpu)")
    parser.add_argument(
        "--quantize",
        choices=["int8"],
        default=None,
        help="int8: dynamic int8 quantization of the linear layers, faster CPU inference (perceiver_hf.quantization)",
    )
    parser.add_argument(
        "--dtype",
        choices=[FLOAT32, BFLOAT16],
        default=None,
        help=f"dtype of the weights and computation (default: as saved, {FLOAT32} for perceiver-hf's models); "
        f"{BFLOAT16} is about twice as fast on CPUs with bf16 instructions (AVX512-BF16, AMX), with logits "
        "rounded to 3 significant digits (docs/speed.md)",
    )
    parser.add_argument("--json", action="store_true", help="print the pipeline's results as JSON")
    parser.set_defaults(func=run, precheck=precheck)
    return parser


def _check_arguments(args: argparse.Namespace) -> tuple[str, list[str], str]:
    """(MODEL, texts, mode) after the checks that need no model; a local model's texts must hold its mask."""
    model, texts = _split_model_and_texts(args.model, list(args.texts))
    mode = _resolve_mode(args.mode, args.top_k)
    if args.batch_size < 1:
        raise FillError(f"--batch-size must be at least 1, got {args.batch_size}.")
    if args.quantize is not None and args.dtype == BFLOAT16:
        raise FillError(
            f"--quantize {args.quantize} quantizes float32 weights; drop --dtype {args.dtype} (or --quantize)."
        )
    _check_device(args.device)
    try:
        check_model_source(model, args.revision)
    except ModelSourceError as error:
        raise FillError(str(error)) from error
    _check_architecture(model)
    mask_token = _local_mask_token(model)
    if mask_token is not None:
        _prepare_texts(texts, args.mask, mask_token)
    return model, texts, mode


def _check_architecture(model: str) -> None:
    """Name a local folder of another head as what it is, with the command that uses it."""
    architecture = saved_architecture(model)
    if architecture in ("PerceiverForSequenceClassification", "PerceiverForTokenClassification"):
        raise FillError(
            f"{model} holds a {architecture}, a classifier without a masked-LM head; label texts with: "
            f'perceiver-hf classify {model} "a text"'
        )
    if architecture == "PerceiverModel":
        raise FillError(
            f"{model} holds a PerceiverModel, the encoder-decoder without its masked-LM head, so it cannot fill "
            "masks; use the PerceiverForMaskedLM folder it came from."
        )


def _local_mask_token(model: str) -> Optional[str]:
    """The mask token a local model folder's tokenizer_config.json names, without loading anything; else None."""
    try:
        with open(os.path.join(model, "tokenizer_config.json"), encoding="utf-8") as file:
            token = json.load(file).get("mask_token")
    except (OSError, ValueError, AttributeError):
        return None
    token = token.get("content") if isinstance(token, dict) else token
    return token if isinstance(token, str) and token else None


def precheck(args: argparse.Namespace) -> int:
    """Check the arguments and texts before torch and transformers are imported; returns the exit code (0: fine)."""
    try:
        _check_arguments(args)
    except FillError as error:
        print(f"perceiver-hf fill: error: {error}", file=sys.stderr)
        return 2
    return 0


def run(args: argparse.Namespace) -> int:
    """Entry point of `perceiver-hf fill`; returns the exit code."""
    try:
        model, texts, mode = _check_arguments(args)
        _warn_if_slow_bf16(args)
        tokenizer = load_part(model, args.revision, "tokenizer", lambda: _auto_tokenizer(model, args.revision))
        _check_top_k(args.top_k, tokenizer)
        texts = _prepare_texts(texts, args.mask, _mask_token(tokenizer))
        task = "fill-mask-spans" if mode == SPANS_MODE else FILL_MASK_MODE
        fill = load_part(model, args.revision, "model", lambda: _pipeline(task, model, tokenizer, args))
        if args.quantize == "int8":
            _quantize_int8(fill.model)
        else:
            _use_onednn_on_cpu(fill.model)
        results = _fill_texts(fill, texts, mode, args)
    except FillError as error:
        print(f"perceiver-hf fill: error: {error}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(results, ensure_ascii=False, indent=2))
    else:
        for text, result in zip(texts, results):
            if mode == SPANS_MODE:
                _print_spans(result)
            else:
                _print_candidates(text, result)
    return 0


def _fill_texts(fill: Any, texts: list[str], mode: str, args: argparse.Namespace) -> list[Any]:
    """Run the pipeline on all texts; bad input found by the model (e.g. a text too long) becomes a `FillError`."""
    try:
        if mode == SPANS_MODE:
            return fill(texts, batch_size=args.batch_size)
        results = fill(texts, top_k=args.top_k or DEFAULT_TOP_K, batch_size=args.batch_size)
    except ValueError as error:
        raise FillError(str(error)) from error
    return [_as_rows(result) for result in (results if len(texts) > 1 else [results])]


def _split_model_and_texts(model: Optional[str], texts: list[str]) -> tuple[str, list[str]]:
    """Return (MODEL, texts); a first argument that is clearly a text (not a folder or Hub id) is a text."""
    if model is not None and not _looks_like_model(model):
        model, texts = None, [model, *texts]
    if model is None:
        model = _default_model()
    model = resolve_shipped_model(model)
    if not texts:
        raise FillError(f'no TEXT given. Example: perceiver-hf fill {model} "The capital of France is[MASK][MASK]..."')
    return model, texts


def _default_model() -> str:
    """Folder of the model shipped with the package (`perceiver_hf.pretrained.DEFAULT_MODEL`), used without MODEL."""
    from perceiver_hf.pretrained import DEFAULT_MODEL, pretrained_model_path

    try:
        return str(pretrained_model_path(DEFAULT_MODEL))
    except ValueError as error:
        raise FillError(
            f"no MODEL given, and this installation has no shipped model to fall back on ({error}). Pass a model "
            'folder (saved with save_pretrained, with its tokenizer) or a Hub id: perceiver-hf fill MODEL "text".'
        ) from error


def _looks_like_model(argument: str) -> bool:
    """True for an existing path, a Hub id (`name` or `owner/name`) or a path-shaped string; False for a text."""
    return os.path.exists(argument) or is_hub_id(argument) or looks_like_path(argument)


def _resolve_mode(mode: Optional[str], top_k: Optional[int]) -> str:
    if top_k is not None and top_k < 1:
        raise FillError(f"--top-k must be at least 1, got {top_k}.")
    if top_k is not None and mode == SPANS_MODE:
        raise FillError(f"--top-k applies to --mode {FILL_MASK_MODE}; --mode {SPANS_MODE} fills masks greedily.")
    return mode or (FILL_MASK_MODE if top_k is not None else SPANS_MODE)


def _check_device(device: Optional[str]) -> None:
    """Refuse a --device torch does not know or this machine does not have, before anything is loaded."""
    if device is None:
        return
    import torch

    try:
        parsed = torch.device(device)
    except (RuntimeError, ValueError) as error:
        raise FillError(f"--device {device!r} is not a torch device ({error}); use e.g. cpu or cuda:0.") from error
    if parsed.type == "cpu":
        return
    try:
        torch.empty(1, device=parsed)
    except (RuntimeError, AssertionError, ValueError) as error:
        first_line = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise FillError(
            f"--device {device!r} is not available on this machine ({first_line}); use --device cpu."
        ) from error


def _warn_if_slow_bf16(args: argparse.Namespace) -> None:
    """One line on stderr where --dtype bfloat16 runs on a CPU without bf16 instructions (it still runs)."""
    import torch

    from perceiver_hf.cpu_bf16 import slow_cpu_bf16_warning

    if args.dtype != BFLOAT16 or torch.device(args.device or "cpu").type != "cpu":
        return
    warning = slow_cpu_bf16_warning(f"--dtype {BFLOAT16}", f"use --dtype {FLOAT32} (or --quantize int8)")
    if warning is not None:
        print(f"perceiver-hf fill: warning: {warning}", file=sys.stderr)


def _check_top_k(top_k: Optional[int], tokenizer: Any) -> None:
    """Refuse a --top-k larger than the vocabulary (there are not that many candidates)."""
    if top_k is not None and top_k > len(tokenizer):
        size = len(tokenizer)
        raise FillError(f"--top-k {top_k} is more than the {size} tokens of the vocabulary; use at most {size}.")


def load_part(model: str, revision: Optional[str], what: str, load: Callable[[], Any]) -> Any:
    """Run `load`, turning a loading failure into a `FillError` that names MODEL, its revision and the cause."""
    from perceiver_hf.strict_loading import WeightsMismatchError
    from perceiver_hf.quiet import quiet_loading

    try:
        with quiet_loading():
            return load()
    except (OSError, ValueError, KeyError, WeightsMismatchError) as error:
        where = f"revision {revision!r} of " if revision else ""
        hint = "" if os.path.exists(model) else " (no local folder of that name either; check the path or Hub id)"
        raise FillError(f"could not load the {what} of {where}{model!r}{hint}: {error}") from error


def _auto_tokenizer(model: str, revision: Optional[str]) -> Any:
    from transformers import AutoTokenizer

    import perceiver_hf  # noqa: F401  (registers the Perceiver IO classes and the fill-mask-spans task)

    return AutoTokenizer.from_pretrained(model, revision=revision)


def _mask_token(tokenizer: Any) -> str:
    if tokenizer.mask_token is None:
        raise FillError(f"the tokenizer ({type(tokenizer).__name__}) has no mask token, so there is nothing to fill.")
    return str(tokenizer.mask_token)


def _pipeline(task: str, model: str, tokenizer: Any, args: argparse.Namespace) -> Any:
    """The pipeline on perceiver-hf's `PerceiverForMaskedLM`, loaded strictly here: `pipeline(model=path)` could
    fall back to transformers' own class of the same name, which loads none of the weights."""
    from transformers import pipeline

    from perceiver_hf import PerceiverForMaskedLM

    loaded = PerceiverForMaskedLM.from_pretrained(model, revision=args.revision, dtype=args.dtype or "auto")
    return pipeline(task, model=loaded, tokenizer=tokenizer, device=args.device)


def _use_onednn_on_cpu(model: Any) -> None:
    """This command's own float32 CPU model runs its linears on oneDNN (`perceiver_hf.cpu_linear`: the documented
    inference opt-in, a few percent to 25% faster here); the model is not handed to other tools afterwards."""
    import torch

    from perceiver_hf.cpu_linear import use_onednn_linears

    parameter = next(model.parameters())
    if parameter.device.type == "cpu" and parameter.dtype == torch.float32:
        use_onednn_linears(model)


def _quantize_int8(model: Any) -> None:
    from perceiver_hf.quantization import quantize_dynamic_int8

    try:
        quantize_dynamic_int8(model, inplace=True)
    except ValueError as error:
        raise FillError(f"--quantize int8: {error}") from error


def _prepare_texts(texts: list[str], mask_word: Optional[str], mask_token: str) -> list[str]:
    """Apply `--mask WORD` and check that every text has a mask, before the model runs."""
    from perceiver_hf.text_masks import mask_span, missing_mask_message

    prepared = []
    for index, text in enumerate(texts):
        if mask_word is not None:
            try:
                text = mask_span(text, mask_word, mask_token)
            except ValueError as error:
                raise FillError(f"--mask: {error}") from error
        if mask_token not in text:
            where = f"TEXT {index + 1} of {len(texts)}: " if len(texts) > 1 else ""
            raise FillError(where + missing_mask_message(text, mask_token) + " (Or use --mask WORD.)")
        prepared.append(text)
    return prepared


def _as_rows(result: list) -> list[list[dict[str, Any]]]:
    """transformers' fill-mask result for one text as one list of candidates per mask."""
    return [result] if result and isinstance(result[0], dict) else result


def _print_spans(result: dict[str, Any]) -> None:
    print(result["sequence"])
    for span in result["spans"]:
        print(f"  [{span['start']}:{span['end']}] {span['text']!r} (score {span['score']:.3g})")


def _print_candidates(text: str, rows: list[list[dict[str, Any]]]) -> None:
    print(text)
    for index, candidates in enumerate(rows, start=1):
        shown = "  ".join(f"{c['token_str']!r} {c['score']:.3g}" for c in candidates)
        print(f"  mask {index}: {shown}")
