"""Run a Python script, such as transformers' example scripts, with perceiver-hf's Auto classes registered.

    python -m perceiver_hf.run_script run_mlm.py --model_name_or_path FOLDER --train_file text.txt ...

transformers' example scripts (``run_mlm.py``, ``run_ner.py``, ``run_classification.py``, ...) load a model with
``AutoConfig`` / ``AutoTokenizer`` / ``AutoModelFor*.from_pretrained(--model_name_or_path)``; they never import
``perceiver_hf``, so transformers does not know the model type ``perceiver_io`` of a perceiver folder. This
launcher imports the package (which registers the config, the models and the tokenizer with the Auto classes),
then runs the script unchanged as ``__main__``, the way ``python SCRIPT.py ARGS...`` would: ``sys.argv`` is the
script and its arguments, the script's folder comes first on ``sys.path``, and the script's exit code and
exceptions (with their traceback) pass through. A missing or unreadable script ends in one line on stderr and
exit code 2.
"""

from __future__ import annotations

import runpy
import sys
from pathlib import Path
from typing import Optional, Sequence

import perceiver_hf

USAGE = "usage: python -m perceiver_hf.run_script SCRIPT.py [SCRIPT ARGUMENTS...]"
PROGRAM = "perceiver_hf.run_script"


class ScriptError(ValueError):
    """The script to run is missing or cannot be read."""


def check_script(path: str) -> Path:
    """The script at ``path``, checked to be a readable file; raises `ScriptError` (one line) otherwise."""
    script = Path(path)
    if not script.exists():
        raise ScriptError(f"no script at {path!r}: give the path of a Python file, e.g. run_mlm.py")
    if script.is_dir():
        raise ScriptError(f"{path!r} is a folder, not a script: give the path of a Python file, e.g. run_mlm.py")
    try:
        with script.open("rb") as handle:
            handle.read(1)
    except OSError as error:
        raise ScriptError(f"cannot read the script {path!r} ({error.strerror or error}); check its permissions")
    return script


def run_script(path: str, args: Sequence[str] = ()) -> None:
    """Register perceiver-hf with transformers' Auto classes, then run the script at ``path`` as ``__main__``.

    Args:
        path: The script, e.g. transformers' ``examples/pytorch/language-modeling/run_mlm.py``.
        args: Its command-line arguments (``sys.argv[1:]`` while it runs).

    Raises:
        ScriptError: If there is no readable file at ``path``. Anything the script raises, `SystemExit`
            included, passes through.
    """
    script = check_script(path)
    perceiver_hf.load()  # registers the Auto classes (idempotent; importing the package already did)
    saved_argv, saved_path = sys.argv, list(sys.path)
    sys.argv = [str(script), *args]
    sys.path.insert(0, str(script.resolve().parent))  # as `python SCRIPT.py` puts the script's folder first
    try:
        runpy.run_path(str(script), run_name="__main__")
    finally:
        sys.argv, sys.path[:] = saved_argv, saved_path


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Command-line entry: ``SCRIPT [ARGS...]``; returns 0 when the script returns, 2 for a bad script path."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help"):
        print(USAGE, file=sys.stdout if argv else sys.stderr)
        print(__doc__.split("\n\n")[2].replace("\n", " "), file=sys.stdout if argv else sys.stderr)
        return 0 if argv else 2
    try:
        script = check_script(argv[0])
    except ScriptError as error:
        print(f"{PROGRAM}: error: {error}", file=sys.stderr)
        return 2
    run_script(str(script), argv[1:])
    return 0


if __name__ == "__main__":
    sys.exit(main())
