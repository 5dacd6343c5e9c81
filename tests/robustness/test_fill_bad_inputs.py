"""Issue 14 item 13 (fill): a corrupt model.safetensors, --top-k beyond the vocabulary, --device cuda:0 without
CUDA and --device bogus are one line naming the problem and the fix, exit code 2, no traceback."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from helpers.sources import saved_model  # noqa: F401 (fixture)

from perceiver_hf.cli import main


def _refused(argv: list[str], capsys: pytest.CaptureFixture) -> str:
    assert main(["fill", *argv]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    errors = [line for line in err.splitlines() if line.startswith("perceiver-hf fill: error:")]
    assert len(errors) == 1, err
    return errors[0]


@pytest.mark.parametrize("damage", ["truncated", "empty", "garbage"])
def test_a_corrupt_model_safetensors(saved_model: Path, capsys: pytest.CaptureFixture, damage: str) -> None:
    weights = saved_model / "model.safetensors"
    data = weights.read_bytes()
    weights.write_bytes({"truncated": data[:300], "empty": b"", "garbage": b"\x07" * 4096}[damage])
    message = _refused([str(saved_model), "a [MASK]"], capsys)
    assert "model.safetensors is not a valid safetensors file" in message and "again" in message


def test_top_k_beyond_the_vocabulary(saved_model: Path, capsys: pytest.CaptureFixture) -> None:
    message = _refused([str(saved_model), "a [MASK]", "--top-k", "100000"], capsys)
    assert "--top-k 100000 is more than the 262 tokens" in message and "use at most 262" in message


@pytest.mark.skipif(torch.cuda.is_available(), reason="the machine has CUDA, so cuda:0 is a valid device")
def test_cuda_without_cuda(saved_model: Path, capsys: pytest.CaptureFixture) -> None:
    message = _refused([str(saved_model), "a [MASK]", "--device", "cuda:0"], capsys)
    assert "--device 'cuda:0' is not available on this machine" in message and "--device cpu" in message


def test_a_device_torch_does_not_know(saved_model: Path, capsys: pytest.CaptureFixture) -> None:
    message = _refused([str(saved_model), "a [MASK]", "--device", "bogus"], capsys)
    assert "--device 'bogus' is not a torch device" in message and "cpu" in message
