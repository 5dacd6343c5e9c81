"""`perceiver-hf export-hub MODEL OUTPUT_DIR`: a Hub-ready folder that loads without perceiver-hf installed.

The folder holds the weights (safetensors), config.json with an `auto_map`, the tokenizer, the model card
(README.md) and self-contained configuration/modeling/tokenization code generated from this package, so that

    AutoModelForMaskedLM.from_pretrained(OUTPUT_DIR, trust_remote_code=True)
    AutoTokenizer.from_pretrained(OUTPUT_DIR, trust_remote_code=True)
    pipeline("fill-mask", model=OUTPUT_DIR, trust_remote_code=True)

work anywhere transformers is installed. Upload it with `hf upload ORG/NAME OUTPUT_DIR`.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any, Optional

COMMAND = "export-hub"


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Add the `export-hub` subcommand to the `perceiver-hf` parser."""
    parser = subparsers.add_parser(
        COMMAND,
        help="write a Hub-ready folder with self-contained remote code (trust_remote_code=True)",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("model", metavar="MODEL", help="a saved perceiver-hf model: local folder or Hub repo id")
    parser.add_argument("output_dir", metavar="OUTPUT_DIR", type=Path, help="folder to create")
    parser.add_argument("--revision", default=None, help="branch, tag or commit of MODEL on the Hub")
    parser.add_argument(
        "--tokenizer",
        default=None,
        help="where the tokenizer is (default: MODEL; a byte model without tokenizer files gets the byte tokenizer)",
    )
    parser.add_argument("--no-tokenizer", action="store_true", help="export the model without a tokenizer")
    parser.add_argument("--model-card", type=Path, default=None, help="README.md to ship (default: MODEL's README.md)")
    parser.add_argument("--max-shard-size", default=None, help='split the weights into files of at most this size, e.g. "200MB"')
    parser.add_argument(
        "--force", action="store_true", help="replace OUTPUT_DIR if perceiver-hf wrote it (once the new one is complete)"
    )
    parser.add_argument("--overwrite", action="store_true", help=argparse.SUPPRESS)  # deprecated name of --force
    parser.set_defaults(func=run, precheck=precheck)
    return parser


def _has_file(source: str, filename: str, revision: Optional[str]) -> bool:
    """Whether `filename` exists in the local folder or Hub repository `source`."""
    if Path(source).is_dir():
        return (Path(source) / filename).is_file()
    from transformers.utils import cached_file

    return (
        cached_file(
            source,
            filename,
            revision=revision,
            _raise_exceptions_for_missing_entries=False,
            _raise_exceptions_for_connection_errors=False,
        )
        is not None
    )


def _read_file(source: str, filename: str, revision: Optional[str]) -> Optional[str]:
    if not _has_file(source, filename, revision):
        return None
    if Path(source).is_dir():
        return (Path(source) / filename).read_text(encoding="utf-8")
    from transformers.utils import cached_file

    return Path(cached_file(source, filename, revision=revision)).read_text(encoding="utf-8")


def load_model(source: str, revision: Optional[str]) -> Any:
    """The saved model, as the class its config.json names (`architectures`) among perceiver-hf's four model
    classes; `PerceiverForMaskedLM` when it names none of them."""
    from ..configuration_perceiver import PerceiverConfig
    from ..modeling_classification import PerceiverForSequenceClassification, PerceiverForTokenClassification
    from ..modeling_perceiver import PerceiverForMaskedLM, PerceiverModel

    classes = {cls.__name__: cls for cls in (PerceiverModel, PerceiverForMaskedLM, PerceiverForSequenceClassification,
                                              PerceiverForTokenClassification)}
    kwargs = {} if revision is None else {"revision": revision}
    model_class = PerceiverForMaskedLM
    if _has_file(source, "config.json", revision):
        config_dict, _ = PerceiverConfig.get_config_dict(source, **kwargs)
        model_class = classes.get((config_dict.get("architectures") or [None])[0], PerceiverForMaskedLM)
    return model_class.from_pretrained(source, **kwargs)


def load_tokenizer(source: str, revision: Optional[str], config: Any) -> Any:
    """The tokenizer saved in `source`; the byte tokenizer for a byte model that has none; else a ValueError."""
    from transformers import AutoTokenizer

    from ..tokenization_perceiver import BYTE_VOCAB_SIZE, PerceiverByteTokenizer

    if _has_file(source, "tokenizer_config.json", revision) or _has_file(source, "tokenizer.json", revision):
        kwargs = {} if revision is None else {"revision": revision}
        return AutoTokenizer.from_pretrained(source, **kwargs)
    if config.vocab_size == BYTE_VOCAB_SIZE:
        print(f"{source} has no tokenizer files; using the byte tokenizer (vocabulary {BYTE_VOCAB_SIZE}).")
        return PerceiverByteTokenizer(model_max_length=config.max_seq_len)
    raise ValueError(
        f"{source} has no tokenizer files and its vocabulary ({config.vocab_size}) is not the byte vocabulary; "
        "pass --tokenizer PATH (the tokenizer the model was trained with), or --no-tokenizer."
    )


def model_source_precheck(command: str, args: argparse.Namespace) -> int:
    """Fail at once, before torch is imported, when `args.model` is neither a folder nor reachable on the Hub
    (the `precheck` of the subcommands that read one MODEL: export-hub, export onnx)."""
    from ..model_location import ModelSourceError, check_model_source, resolve_shipped_model

    args.model = resolve_shipped_model(args.model)
    try:
        check_model_source(args.model, args.revision)
    except ModelSourceError as error:
        print(f"perceiver-hf {command}: error: {error}", file=sys.stderr)
        return 1
    return 0


def precheck(args: argparse.Namespace) -> int:
    """`model_source_precheck` for export-hub."""
    return model_source_precheck(COMMAND, args)


def _local_inputs(args: argparse.Namespace) -> list[Any]:
    """What export-hub reads from disk (Hub ids are not paths and are skipped by the output-folder check)."""
    return [args.model, args.tokenizer, args.model_card]


def run(args: argparse.Namespace) -> int:
    """Export `args.model` to `args.output_dir`; returns the exit code."""
    from ..hub import export_for_hub
    from ..output_folder import plan_output_folder
    from ..quiet import quiet_loading

    if args.overwrite:
        print(f"perceiver-hf {COMMAND}: --overwrite is deprecated; use --force.", file=sys.stderr)
    try:
        plan = plan_output_folder(args.output_dir, force=args.force or args.overwrite, inputs=_local_inputs(args))
        with quiet_loading():
            model = load_model(args.model, args.revision)
        tokenizer = None
        if not args.no_tokenizer:
            tokenizer_source = args.tokenizer or args.model
            tokenizer_revision = None if args.tokenizer else args.revision
            tokenizer = load_tokenizer(tokenizer_source, tokenizer_revision, model.config)
        if args.model_card is not None:
            model_card = args.model_card.read_text(encoding="utf-8")
        else:
            model_card = _read_file(args.model, "README.md", args.revision)
            if model_card is None:
                print(f"{args.model} has no README.md: exporting without a model card (see model_cards/).")
        output_dir = export_for_hub(
            model,
            plan,
            tokenizer,
            model_card=model_card,
            max_shard_size=args.max_shard_size,
        )
    except (OSError, ValueError) as error:
        print(f"perceiver-hf {COMMAND}: error: {error}", file=sys.stderr)
        return 1
    files = sorted(path.name for path in output_dir.iterdir() if not path.name.startswith("."))
    print(f"Wrote {output_dir}: {', '.join(files)}")
    print(
        "Load it without perceiver-hf: AutoModelForMaskedLM.from_pretrained(path, trust_remote_code=True); "
        f"upload it with: hf upload ORG/NAME {output_dir}"
    )
    return 0
