"""`perceiver-hf convert`: turn a foreign checkpoint into a Hub-ready perceiver-hf model folder.

    perceiver-hf convert haiku PICKLE OUTPUT_DIR [--config-overrides key=value,...] [--force] [--quiet]
    perceiver-hf convert transformers SOURCE OUTPUT_DIR [--revision REV] [--force] [--quiet]
    perceiver-hf convert perceiver-io SOURCE OUTPUT_DIR [--config SETTINGS.json] [--force] [--quiet]

Errors (missing or corrupt file, refused pickle globals, mismatched weights, non-empty OUTPUT_DIR) are printed
as one message and exit with status 1; nothing is left behind in OUTPUT_DIR.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path
from typing import Any, Callable, Optional, Sequence

HAIKU_HELP = "DeepMind's Haiku pickle (e.g. language_perceiver_io_bytes.pickle; no JAX or Haiku needed)"
TRANSFORMERS_HELP = "transformers' own PerceiverForMaskedLM (model_type 'perceiver'), e.g. deepmind/language-perceiver"
PERCEIVER_IO_HELP = (
    "a perceiver-io library masked language model or text classifier: 0.4's LitLanguageModel / LitTextClassifier "
    ".ckpt (or a state dict with --config), or a 0.9-0.11 Hugging Face folder or Hub id "
    "(model_type perceiver-io-masked-language-model / perceiver-io-text-classifier)"
)


def _add_common_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("output_dir", metavar="OUTPUT_DIR", help="folder to create; must be new or empty")
    parser.add_argument(
        "--force", action="store_true", help="replace a non-empty OUTPUT_DIR (only once the new folder is complete)"
    )
    parser.add_argument("--quiet", action="store_true", help="no progress bars or log messages")


def add_haiku_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of `convert haiku` (also used by conversion/convert_haiku_to_safetensors.py)."""
    parser.add_argument("pickle", metavar="PICKLE", help="the Haiku checkpoint")
    _add_common_arguments(parser)
    parser.add_argument(
        "--config-overrides",
        default="",
        metavar="KEY=VALUE,...",
        help="PerceiverConfig fields the weights do not reveal, e.g. 'num_self_attention_heads=8,"
        "num_self_attention_blocks=1' (default: DeepMind's published configuration, 8 heads everywhere, 1 block)",
    )
    parser.set_defaults(func=run_haiku, precheck=_pickle_precheck)


def add_transformers_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of `convert transformers`."""
    parser.add_argument("source", metavar="SOURCE", help="a folder or Hub model id")
    _add_common_arguments(parser)
    parser.add_argument("--revision", default=None, help="Hub branch, tag or commit of SOURCE")
    parser.set_defaults(func=run_transformers, precheck=_source_precheck)


def add_perceiver_io_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of `convert perceiver-io`."""
    parser.add_argument(
        "source", metavar="SOURCE",
        help="a 0.4 Lightning .ckpt or torch.save'd state dict, or a 0.9-0.11 Hugging Face folder or Hub model id",
    )
    _add_common_arguments(parser)
    parser.add_argument("--revision", default=None, help="Hub branch, tag or commit of a Hub SOURCE (0.9-0.11)")
    parser.add_argument(
        "--config",
        default=None,
        metavar="SETTINGS.json",
        help='the model settings, {"encoder": {TextEncoderConfig fields}, "decoder": {TextDecoderConfig or '
        'ClassificationDecoderConfig fields, the latter with an optional "id2label"}, "num_latents": N, "num_latent_channels": D}; required with a state dict (a .ckpt carries them)',
    )
    parser.set_defaults(func=run_perceiver_io, precheck=_source_precheck)


def add_parser(subparsers: Any) -> None:
    """Add `convert` and its `haiku` / `transformers` subcommands to the `perceiver-hf` parser."""
    parser = subparsers.add_parser(
        "convert",
        help="convert DeepMind's Haiku checkpoint, transformers' Perceiver or a perceiver-io checkpoint into a "
        "perceiver-hf model folder",
        description="Write config.json, model.safetensors, the byte tokenizer and a README.md model card to "
        "OUTPUT_DIR, atomically.",
    )
    formats = parser.add_subparsers(dest="source_format", metavar="FORMAT", required=True)
    add_haiku_arguments(formats.add_parser("haiku", help=HAIKU_HELP, description=HAIKU_HELP))
    add_transformers_arguments(
        formats.add_parser("transformers", help=TRANSFORMERS_HELP, description=TRANSFORMERS_HELP)
    )
    add_perceiver_io_arguments(
        formats.add_parser("perceiver-io", help=PERCEIVER_IO_HELP, description=PERCEIVER_IO_HELP)
    )


def _pickle_precheck(args: argparse.Namespace) -> int:
    """Before anything is announced or imported: PICKLE must be an existing file."""
    path = Path(args.pickle)
    problem = "does not exist" if not path.exists() else "is a folder, not the pickle file" if path.is_dir() else None
    if problem is None:
        return 0
    print(f"perceiver-hf convert: error: PICKLE {args.pickle!r} {problem}; pass the Haiku checkpoint file "
          "(e.g. language_perceiver_io_bytes.pickle).", file=sys.stderr)
    return 1


def _source_precheck(args: argparse.Namespace) -> int:
    """Before anything is imported: a SOURCE that is not on disk must be a Hub id that is cached or reachable
    (offline or unreachable Hub: one line at once instead of huggingface_hub's retries)."""
    from ..model_location import ModelSourceError, check_model_source

    if Path(args.source).exists():
        return 0
    try:
        check_model_source(args.source, args.revision, perceiver_folder=False)
    except ModelSourceError as error:
        print(f"perceiver-hf convert: error: {error}", file=sys.stderr)
        return 1
    return 0


def _run(args: argparse.Namespace, convert: Callable[..., Any]) -> int:
    """Call `convert(output_dir, force=..., progress=...)`; a bad input becomes one message on stderr, status 1."""
    if not args.quiet:
        logging.basicConfig(level=logging.INFO, format="%(message)s")
    else:
        from transformers.utils import logging as transformers_logging

        transformers_logging.disable_progress_bar()  # transformers' "Loading weights" bar
    try:
        output_dir = convert(args.output_dir, force=args.force, progress=not args.quiet)
    except ValueError as error:  # ConversionError and its subclasses, bad --config-overrides, bad config values
        print(f"perceiver-hf convert: error: {error}", file=sys.stderr)
        return 1
    print(f"Wrote {output_dir}")
    return 0


def run_haiku(args: argparse.Namespace) -> int:
    """`perceiver-hf convert haiku`."""
    from ..convert import convert_haiku_checkpoint, parse_config_overrides
    from ..convert.haiku_config import assumed_settings

    def convert(output_dir: str, **options: Any) -> Any:
        overrides = parse_config_overrides(args.config_overrides)
        assumed = assumed_settings(overrides)
        if assumed and not args.quiet:
            settings = ",".join(f"{key}={value}" for key, value in assumed.items())
            print(
                f"The weights do not show these settings; assuming DeepMind's: {settings}. If the checkpoint was "
                f"trained otherwise, pass --config-overrides '{settings}' with its values."
            )
        return convert_haiku_checkpoint(args.pickle, output_dir, config_overrides=overrides, **options)

    return _run(args, convert)


def run_transformers(args: argparse.Namespace) -> int:
    """`perceiver-hf convert transformers`."""
    from ..convert import convert_transformers_checkpoint

    def convert(output_dir: str, **options: Any) -> Any:
        return convert_transformers_checkpoint(args.source, output_dir, revision=args.revision, **options)

    return _run(args, convert)


def run_perceiver_io(args: argparse.Namespace) -> int:
    """`perceiver-hf convert perceiver-io`."""
    from ..convert import convert_perceiver_io_checkpoint, convert_perceiver_io_folder
    from ..convert.errors import ConversionError

    checkpoint = Path(args.source).is_file()

    def convert(output_dir: str, **options: Any) -> Any:
        if checkpoint and args.revision:
            raise ConversionError(f"--revision is for a Hub SOURCE; {args.source} is a local checkpoint file.")
        if not checkpoint and args.config:
            raise ConversionError(f"--config is for a 0.4 state dict; {args.source} is not a file (a 0.9-0.11 "
                                  "folder or Hub id carries its settings in config.json).")
        if checkpoint:
            return convert_perceiver_io_checkpoint(args.source, output_dir, settings_json=args.config, **options)
        return convert_perceiver_io_folder(args.source, output_dir, revision=args.revision, **options)

    return _run(args, convert)


def haiku_main(argv: Optional[Sequence[str]] = None, prog: Optional[str] = None) -> int:
    """Entry point of the standalone script conversion/convert_haiku_to_safetensors.py."""
    parser = argparse.ArgumentParser(
        prog=prog, description=f"Convert {HAIKU_HELP} into a perceiver-hf model folder (= perceiver-hf convert haiku)."
    )
    add_haiku_arguments(parser)
    args = parser.parse_args(argv)
    return args.func(args)
