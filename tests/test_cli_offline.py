"""A MODEL that is neither a folder nor a cached Hub repository fails at once (item 5 of issue 13), in every
command that may reach the Hub (issue 26 item 5: convert transformers / perceiver-io, train's model, config
and tokenizer names), and convert haiku names a missing PICKLE before announcing anything.

The Hub endpoint is http://127.0.0.1:9 (nothing listens there): without the check, huggingface_hub retries for
about a minute ("Retrying ...") before failing. The subprocess timeout is a generous ceiling, not a benchmark.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from helpers.hub import add_snapshot

from perceiver_hf.pretrained import pretrained_model_path

UNREACHABLE = "http://127.0.0.1:9"


def fill(argv: list[str], hf_home: Path, **env: str) -> subprocess.CompletedProcess:
    """`perceiver-hf fill ARGV` in a new process with its own Hugging Face cache."""
    return command(["fill", *argv], hf_home, **env)


def command(argv: list[str], hf_home: Path, **env: str) -> subprocess.CompletedProcess:
    """`perceiver-hf ARGV` in a new process with its own Hugging Face cache."""
    environment = {key: value for key, value in os.environ.items() if not key.startswith(("HF_", "TRANSFORMERS_"))}
    environment.update(HF_HOME=str(hf_home), **env)
    code = "import sys, perceiver_hf_launcher; sys.exit(perceiver_hf_launcher.main(sys.argv[1:]))"
    return subprocess.run(
        [sys.executable, "-c", code, *argv], env=environment, capture_output=True, text=True, timeout=120
    )


def test_an_unknown_hub_id_with_the_hub_unreachable_fails_at_once(tmp_path: Path) -> None:
    result = fill(["someone/no-such-model", "a [MASK]"], tmp_path, HF_ENDPOINT=UNREACHABLE)
    assert result.returncode == 2
    assert "Retrying" not in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert "no cached Hub repository 'someone/no-such-model'" in result.stderr
    assert "cannot be reached" in result.stderr and "HF_HUB_OFFLINE=1" in result.stderr


def test_an_unknown_name_offline_says_where_it_looked(tmp_path: Path) -> None:
    result = fill(["my-modle", "a [MASK]"], tmp_path, HF_HUB_OFFLINE="1")
    assert result.returncode == 2 and "Retrying" not in result.stderr
    assert "no folder" in result.stderr and str(tmp_path / "hub") in result.stderr


def test_a_cached_repository_is_used_once_the_hub_is_found_unreachable(tmp_path: Path) -> None:
    add_snapshot(tmp_path / "hub", "user/model", "main", pretrained_model_path())
    result = fill(["user/model", "Some words are m[MASK]ssing."], tmp_path, HF_ENDPOINT=UNREACHABLE)
    assert result.returncode == 0, result.stderr
    assert "Retrying" not in result.stderr and result.stderr.count("cannot be reached") == 1
    assert result.stdout.startswith("Some words are m")


@pytest.mark.parametrize(
    "argv",
    [
        ["convert", "transformers", "deepmind/language-perceiver", "OUT"],
        ["convert", "perceiver-io", "krasserm/perceiver-io-mlm", "OUT"],
        ["train", "--preset", "tiny", "--tokenizer_name", "xlnet-base-cased", "--train_file", "DATA", "--output_dir", "OUT"],
        ["train", "--model_name_or_path", "someone/mlm", "--train_file", "DATA", "--output_dir", "OUT"],
    ],
    ids=["convert transformers", "convert perceiver-io", "train tokenizer", "train model"],
)
def test_every_command_that_may_reach_the_hub_fails_at_once_offline(tmp_path: Path, argv: list[str]) -> None:
    data = tmp_path / "data.txt"
    data.write_text("some text\n", encoding="utf-8")
    argv = [str(data) if a == "DATA" else str(tmp_path / "out") if a == "OUT" else a for a in argv]
    result = command(argv, tmp_path, HF_HUB_OFFLINE="1")
    assert result.returncode != 0 and "Retrying" not in result.stderr
    error = [line for line in result.stderr.splitlines() if "error:" in line]
    assert len(error) == 1 and "HF_HUB_OFFLINE is set" in error[0], result.stderr
    assert not (tmp_path / "out").exists()


def test_convert_haiku_names_a_missing_pickle_before_anything_else(tmp_path: Path) -> None:
    result = command(["convert", "haiku", str(tmp_path / "missing.pickle"), str(tmp_path / "out")], tmp_path)
    assert result.returncode == 1 and result.stdout == ""
    assert result.stderr.strip().splitlines() == [
        f"perceiver-hf convert: error: PICKLE {str(tmp_path / 'missing.pickle')!r} does not exist; pass the Haiku "
        "checkpoint file (e.g. language_perceiver_io_bytes.pickle)."
    ]
