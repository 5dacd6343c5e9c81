"""The `perceiver-hf` command: one subcommand per module in this package.

Each subcommand module defines `add_parser(subparsers)`, which adds its parser and sets `func` (called with the
parsed `argparse.Namespace`, returning an exit code). Heavy imports happen inside `func`, so `--help` is fast.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from typing import Optional, Sequence

# subcommand name -> module that implements it
SUBCOMMANDS = {
    "fill": "perceiver_hf.cli.fill",
    "convert": "perceiver_hf.cli.convert",
    "train": "perceiver_hf.cli.train",
    "export-hub": "perceiver_hf.cli.export_hub",
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="perceiver-hf", description="Perceiver IO masked language models for Hugging Face transformers."
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module_name in SUBCOMMANDS.values():
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as error:  # a subcommand not built yet
            if error.name != module_name:
                raise
            continue
        module.add_parser(subparsers)
    return parser


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    if extra and not getattr(args, "accepts_extra_args", False):
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    args.extra_args = extra
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
