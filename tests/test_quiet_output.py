"""Loading a small model prints nothing on stderr: no progress bars, no meta-device or tensor-parallel notes.

Progress bars belong to long work (conversion, training, downloads). These tests run the commands a user runs
first, in new interpreters, and require an empty stderr, so that any new library chatter shows up here.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from pathlib import Path

from transformers import AutoModelForMaskedLM

from perceiver_hf import pretrained_model_path
from perceiver_hf.strict_loading import quiet_load_report

from helpers.log_records import RecordedMessages

REPO = Path(__file__).resolve().parents[1]
OFFLINE = {**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1"}


def run(argv: list[str], cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(argv, capture_output=True, text=True, env=OFFLINE, cwd=cwd, timeout=300)


def test_fill_with_the_shipped_model_writes_nothing_on_stderr(tmp_path: Path) -> None:
    result = run([sys.executable, "-m", "perceiver_hf.cli", "fill", "The capital of France is [MASK]."], tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    assert result.stdout.startswith("The capital of France is ")


def test_demo_writes_nothing_on_stderr(tmp_path: Path) -> None:
    result = run([sys.executable, str(REPO / "examples" / "demo.py")], tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""


def test_quiet_load_report_does_not_wake_the_tensor_parallel_check() -> None:
    """transformers 5 lists every parameter as "not sharded" when the load-report logger's level is raised."""
    records = RecordedMessages()
    tp_logger = logging.getLogger("transformers.distributed.tensor_parallel")
    tp_logger.addHandler(records)
    try:
        with quiet_load_report():
            AutoModelForMaskedLM.from_pretrained(pretrained_model_path())
    finally:
        tp_logger.removeHandler(records)
    assert not [m for m in records.messages if "not sharded" in m]


def test_train_with_disable_tqdm_shows_no_progress_bar(tmp_path: Path) -> None:
    """`--disable_tqdm true` quiets every bar of a run (issue 26 item 5: datasets' map bars stayed)."""
    data = REPO / "tests" / "data" / "english" / "declaration_of_independence.txt"
    argv = [sys.executable, "-m", "perceiver_hf.cli", "train", "--preset", "tiny", "--train_file", str(data),
            "--output_dir", str(tmp_path / "out"), "--max_seq_len", "64", "--max_steps", "2",
            "--per_device_train_batch_size", "2", "--report_to", "none", "--disable_tqdm", "true",
            "--cache_dir", str(tmp_path / "cache")]  # fmt: skip
    result = run(argv, tmp_path)
    assert result.returncode == 0, result.stderr
    output = result.stdout + result.stderr
    assert "it/s]" not in output and "examples/s]" not in output and "%|" not in output, output[-2000:]
