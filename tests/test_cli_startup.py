"""`perceiver-hf --help` and argument errors import neither torch nor transformers (item 4 of issue 13).

Run in a fresh interpreter entering as the console script does (`perceiver_hf_launcher.main`), then the test
looks at `sys.modules`. Timings are measured by benchmarks/cli_startup.py, not here.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

PROBE = """
import sys
import perceiver_hf_launcher
try:
    code = perceiver_hf_launcher.main({argv!r})
except SystemExit as exit:
    code = exit.code
heavy = sorted(name for name in ("torch", "transformers", "huggingface_hub") if name in sys.modules)
print("HEAVY=" + ",".join(heavy))
print("CODE=" + str(code))
"""


def run_probe(argv: list[str]) -> tuple[str, int, str]:
    """(heavy modules imported, exit code, stderr) of `perceiver-hf ARGV` in a new interpreter."""
    result = subprocess.run(
        [sys.executable, "-c", PROBE.format(argv=argv)], capture_output=True, text=True, timeout=300
    )
    lines = dict(line.split("=", 1) for line in result.stdout.splitlines() if "=" in line)
    return lines["HEAVY"], int(lines["CODE"]), result.stderr


@pytest.mark.parametrize(
    "argv",
    [["--help"], ["--version"], ["fill", "--help"], ["convert", "--help"], ["export", "onnx", "--help"], ["fill", "--top-k", "x", "a [MASK]"], ["nonsense"]],
)
def test_help_and_argument_errors_import_no_torch(argv: list[str]) -> None:
    heavy, code, _ = run_probe(argv)
    assert heavy == "", f"perceiver-hf {' '.join(argv)} imported {heavy}"
    assert code in (0, 2)


def test_a_text_without_a_mask_fails_before_the_model_is_imported() -> None:
    heavy, code, stderr = run_probe(["fill", "a text without a mask"])
    assert code == 2 and "No [MASK]" in stderr and "--mask WORD" in stderr
    assert "torch" not in heavy and "transformers" not in heavy


def test_a_fill_still_loads_and_runs_the_model() -> None:
    heavy, code, _ = run_probe(["fill", "Some words are m[MASK]ssing."])
    assert code == 0 and "torch" in heavy


def test_version_prints_the_installed_version() -> None:
    from perceiver_hf.version import package_version

    result = subprocess.run(
        [sys.executable, "-c", "import perceiver_hf_launcher; perceiver_hf_launcher.main(['--version'])"],
        capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0 and result.stdout.strip() == f"perceiver-hf {package_version()}"
    assert package_version() != "0+unknown"  # the test run uses an installed perceiver-hf
