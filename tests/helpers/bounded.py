"""Run a snippet in a fresh Python process with a time limit, and measure its peak memory (for resource bombs).

The child reports its own peak resident set size (`resource.getrusage`), so each measurement belongs to one
snippet. Limits are generous correctness ceilings, not benchmarks: a bomb exceeds them by orders of magnitude.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path

_REPORT = "\nBOUNDED-RESULT "
_WRAPPER = """
import json, resource, sys, time
start = time.perf_counter()
outcome = {"error": None, "message": None}
try:
    exec(compile(sys.argv[1], "<snippet>", "exec"), {"__name__": "__snippet__"})
except BaseException as error:
    outcome = {"error": type(error).__name__, "message": str(error)}
outcome["seconds"] = time.perf_counter() - start
outcome["peak_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(%r + json.dumps(outcome))
""" % _REPORT


@dataclass
class Outcome:
    """What a snippet did: the exception it raised (type name and message, or None), its time and peak memory."""

    error: str | None
    message: str | None
    seconds: float
    peak_mb: float


def run_bounded(snippet: str, timeout: float = 120.0, env: dict[str, str] | None = None) -> Outcome:
    """Run `snippet` in a child Python; fail the test (AssertionError) if it takes longer than `timeout` seconds."""
    child_env = {**os.environ, "OMP_NUM_THREADS": "1", **(env or {})}
    try:
        done = subprocess.run(
            [sys.executable, "-P", "-c", _WRAPPER, textwrap.dedent(snippet)],
            capture_output=True, text=True, timeout=timeout, env=child_env, cwd=Path(__file__).resolve().parents[2],
        )
    except subprocess.TimeoutExpired:
        raise AssertionError(f"the snippet ran longer than {timeout} s (a hang or a resource bomb)") from None
    if _REPORT not in done.stdout:
        raise AssertionError(f"the child died (exit {done.returncode}): {done.stderr[-2000:]}")
    return Outcome(**json.loads(done.stdout.rsplit(_REPORT, 1)[1]))


def baseline_mb() -> float:
    """Peak memory of a child that only imports perceiver_hf (torch, transformers), to set ceilings above it."""
    return run_bounded("import perceiver_hf.convert").peak_mb
