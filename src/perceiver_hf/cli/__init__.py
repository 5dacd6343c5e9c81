"""The `perceiver-hf` command: one subcommand per module in this package.

Each subcommand module defines `add_parser(subparsers)`, which adds its parser and sets `func` (called with the
parsed `argparse.Namespace`, returning an exit code) and optionally `precheck` (input checks that need no
model). The command enters through `perceiver_hf_launcher`, so nothing here imports torch or transformers until
`func` runs: `--help`, argument errors and `precheck` errors answer at once. `main` is the boundary: an error a
subcommand did not answer itself ends in one line on stderr and exit code 1 (`PERCEIVER_HF_TRACEBACK=1` shows
the traceback instead); Ctrl-C ends with exit code 130.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from typing import Optional, Sequence

from ..version import package_version

TRACEBACK_VARIABLE = "PERCEIVER_HF_TRACEBACK"
"""Set to 1 to let an unexpected error end in its full Python traceback instead of the one-line message."""

# subcommand name -> module that implements it
SUBCOMMANDS = {
    "fill": "perceiver_hf.cli.fill",
    "classify": "perceiver_hf.cli.classify",
    "convert": "perceiver_hf.cli.convert",
    "train": "perceiver_hf.cli.train",
    "export-hub": "perceiver_hf.cli.export_hub",
    "export": "perceiver_hf.cli.export_onnx",
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="perceiver-hf", description="Perceiver IO masked language models for Hugging Face transformers."
    )
    parser.add_argument(
        "--version", action="version", version=f"perceiver-hf {package_version()}",
        help="print the installed perceiver-hf version and exit",
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


def _subparsers_action(parser: argparse.ArgumentParser) -> Optional[argparse._SubParsersAction]:
    return next((a for a in parser._actions if isinstance(a, argparse._SubParsersAction)), None)


def parse(parser: argparse.ArgumentParser, argv: Sequence[str]) -> argparse.Namespace:
    """Parse `argv` with options accepted anywhere among the positionals of the (sub)command.

    The subcommand's own parser parses its arguments (argparse's intermixed parsing), so an error shows that
    subcommand's usage (`perceiver-hf fill: error: ...`). A subcommand that sets `accepts_extra_args` (`train`)
    gets the arguments it does not know in `extra_args`, to pass on.
    """
    argv = list(argv)
    path: list[tuple[str, str]] = []  # (dest, chosen name) of each subcommand level
    while (action := _subparsers_action(parser)) is not None:
        index = next((i for i, arg in enumerate(argv) if not arg.startswith("-")), None)
        if index is None or index > 0 or argv[index] not in action.choices:
            break  # top-level options, no command or an unknown one: argparse's own message and usage
        path.append((action.dest, argv[index]))
        parser, argv = action.choices[argv[index]], argv[index + 1 :]
    if not path or _subparsers_action(parser) is not None:
        args = parser.parse_args(argv)  # prints help or a usage error for an incomplete command
        args.extra_args = []
    elif parser.get_default("accepts_extra_args"):
        args, args.extra_args = parser.parse_known_args(argv)
    else:
        args = parser.parse_intermixed_args(argv)
        args.extra_args = []
    for dest, name in path:
        setattr(args, dest, name)
    return args


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Entry point of `perceiver-hf`; returns the exit code."""
    parser = build_parser()
    args = parse(parser, sys.argv[1:] if argv is None else argv)
    if getattr(args, "command", None) is None or not hasattr(args, "func"):
        parser.print_help()
        return 2
    try:
        precheck = getattr(args, "precheck", None)  # checks of the input that need no model, before the imports
        if precheck is not None and (code := precheck(args)):
            return int(code)
        import perceiver_hf

        perceiver_hf.load()  # deferred by perceiver_hf_launcher until a subcommand runs
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        print(f"{_command_name(args)}: interrupted.", file=sys.stderr)
        return 130
    except Exception as error:  # the boundary: whatever a subcommand did not answer itself, in one line
        if os.environ.get(TRACEBACK_VARIABLE, "") not in ("", "0"):
            raise
        message = " ".join(str(error).split()) or "(no message)"
        print(
            f"{_command_name(args)}: error: {type(error).__name__}: {message} (unexpected; set "
            f"{TRACEBACK_VARIABLE}=1 to see the full traceback, and report it if the input was valid)",
            file=sys.stderr,
        )
        return 1


def _command_name(args: argparse.Namespace) -> str:
    """`perceiver-hf fill`, `perceiver-hf export onnx`, ... as error messages name the command."""
    return " ".join(["perceiver-hf", args.command, *([args.target] if getattr(args, "target", None) else [])])


if __name__ == "__main__":
    sys.exit(main())
