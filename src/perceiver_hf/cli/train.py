"""`perceiver-hf train`: train or fine-tune a Perceiver IO masked language model with `Trainer`.

All arguments after `train` go to transformers' `HfArgumentParser` (see `perceiver_hf.training.parsing`);
`perceiver-hf train --help` lists them. Runs the same under `accelerate launch` and `torchrun`, e.g.
`torchrun --nproc_per_node 2 -m perceiver_hf.cli train ...`.
"""

from __future__ import annotations

import argparse
import importlib.util
import pickle
import sys

REQUIRED_MODULES = {"datasets": "datasets", "matplotlib": "matplotlib", "yaml": "pyyaml"}


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    """Register `train`; its arguments are parsed by HfArgumentParser, so argparse passes them through."""
    parser = subparsers.add_parser(
        "train",
        add_help=False,  # --help goes to HfArgumentParser, which knows all arguments
        help="train or fine-tune on Trainer (run `perceiver-hf train --help` for all arguments)",
        description="Train or fine-tune a Perceiver IO masked language model with transformers' Trainer.",
    )
    parser.set_defaults(func=run, accepts_extra_args=True)


def missing_training_modules() -> list[str]:
    """pip names of the `training` extra's packages that are not installed."""
    return [pip_name for module, pip_name in REQUIRED_MODULES.items() if importlib.util.find_spec(module) is None]


def run(args: argparse.Namespace) -> int:
    """Parse the pass-through arguments and run training; bad input -> message on stderr, exit status 2."""
    missing = missing_training_modules()
    if missing:
        print(
            f"perceiver-hf train: error: missing {', '.join(missing)}; install the training extra: "
            "pip install -e '.[training]' in the perceiver-hf repository",
            file=sys.stderr,
        )
        return 2
    from ..training.run import close_process_group, run_from_argv

    try:
        run_from_argv(args.extra_args)
    except ValueError as error:
        print(f"perceiver-hf train: error: {error}", file=sys.stderr)
        return 2
    except pickle.UnpicklingError as error:  # torch.load(weights_only=True) of a checkpoint's optimizer/rng file
        first_line = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        print(
            "perceiver-hf train: error: a file of the checkpoint to resume from holds pickled objects that are not "
            f"plain data, so it was not loaded ({first_line}). Resume from a checkpoint this run wrote, or start "
            "again without --resume_from_checkpoint.",
            file=sys.stderr,
        )
        return 2
    close_process_group()  # every process got here: leave together
    return 0
