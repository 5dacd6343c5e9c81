"""Issue 14 item 13 (train): a corrupted checkpoint to resume from (any of its files), a corrupt
trainer_state.json, an absurd --max_seq_len, a .txt of random bytes and a malformed .jsonl are one line naming the
file (or the value) and the fix, exit code 2."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from perceiver_hf.cli import main

DECLARATION = Path(__file__).resolve().parents[1] / "data" / "english" / "declaration_of_independence.txt"
CHECKPOINT_FILES = ("trainer_state.json", "config.json", "model.safetensors", "optimizer.pt", "scheduler.pt",
                    "rng_state.pth", "training_args.bin")  # fmt: skip


def _argv(tmp: Path, output: Path, *extra: str) -> list[str]:
    return ["train", "--preset", "tiny", "--train_file", str(DECLARATION), "--cache_dir", str(tmp / "cache"),
            "--output_dir", str(output), "--max_seq_len", "64", "--disable_tqdm", "true", "--do_train",
            "--max_steps", "2", "--save_steps", "2", "--per_device_train_batch_size", "2", "--report_to", "none",
            *extra]  # fmt: skip


def _refused(argv: list[str], capsys: pytest.CaptureFixture) -> str:
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    errors = [line for line in err.splitlines() if line.startswith("perceiver-hf train: error:")]
    assert len(errors) == 1, err
    return errors[0]


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """output_dir of a 2-step run, with its checkpoint-2 (read only: tests copy it)."""
    tmp = tmp_path_factory.mktemp("run")
    assert main(_argv(tmp, tmp / "out")) == 0
    assert (tmp / "out" / "checkpoint-2" / "optimizer.pt").is_file()
    return tmp / "out"


@pytest.mark.parametrize("name", CHECKPOINT_FILES)
def test_resume_from_a_corrupted_checkpoint_names_the_file(
    finished_run: Path, tmp_path: Path, capsys: pytest.CaptureFixture, name: str
) -> None:
    output = Path(shutil.copytree(finished_run, tmp_path / "out"))
    damaged = output / "checkpoint-2" / name
    data = damaged.read_bytes()
    damaged.write_bytes(data[: len(data) // 2])  # an interrupted copy
    message = _refused(
        _argv(tmp_path, output, "--max_steps", "3", "--resume_from_checkpoint", str(output / "checkpoint-2")), capsys
    )
    assert str(damaged) in message and "corrupted" in message and "resume from an earlier one" in message


class Payload:
    """An object whose unpickling would run code: what a hostile optimizer.pt / rng_state.pth carries."""

    def __reduce__(self):
        return (os.system, ("echo pwned > /dev/null",))


@pytest.mark.parametrize("name", ["optimizer.pt", "rng_state.pth"])
def test_resume_from_a_checkpoint_with_a_pickled_payload_is_one_line(
    finished_run: Path, tmp_path: Path, capsys: pytest.CaptureFixture, name: str
) -> None:
    import torch

    output = Path(shutil.copytree(finished_run, tmp_path / "out"))
    torch.save({"state": Payload()}, output / "checkpoint-2" / name)  # an intact archive, a hostile pickle
    message = _refused(
        _argv(tmp_path, output, "--max_steps", "3", "--resume_from_checkpoint", str(output / "checkpoint-2")), capsys
    )
    assert "pickled objects that are not plain data" in message and "--resume_from_checkpoint" in message


def test_resume_last_with_a_corrupt_trainer_state(finished_run: Path, tmp_path: Path, capsys) -> None:
    output = Path(shutil.copytree(finished_run, tmp_path / "out"))
    (output / "checkpoint-2" / "trainer_state.json").write_text('{"global_step": 2, ')
    message = _refused(_argv(tmp_path, output, "--max_steps", "3", "--resume_from_checkpoint", "last"), capsys)
    assert str(output / "checkpoint-2" / "trainer_state.json") in message and "not valid JSON" in message


def test_an_absurd_max_seq_len_is_refused_before_allocating(tmp_path: Path, capsys) -> None:
    argv = _argv(tmp_path, tmp_path / "out")
    argv[argv.index("--max_seq_len") + 1] = "1000000000"
    message = _refused(argv, capsys)
    assert "--max_seq_len 1000000000 needs" in message and "GiB" in message
    assert not (tmp_path / "out").exists()


def test_a_txt_of_random_bytes(tmp_path: Path, capsys) -> None:
    data = tmp_path / "random.txt"
    data.write_bytes(b"fine first line\n" + os.urandom(64) + b"\xff\xfe")
    argv = _argv(tmp_path, tmp_path / "out")
    argv[argv.index("--train_file") + 1] = str(data)
    message = _refused(argv, capsys)
    assert f"{data} is not UTF-8 text" in message and "pass a UTF-8 text file" in message


def test_a_malformed_jsonl(tmp_path: Path, capsys) -> None:
    data = tmp_path / "data.jsonl"
    data.write_text('{"text": "one"}\n{"text": "two"}\n{"text": broken\n')
    argv = _argv(tmp_path, tmp_path / "out")
    argv[argv.index("--train_file") + 1] = str(data)
    message = _refused(argv, capsys)
    assert f"{data}: line 3 is not valid JSON" in message and "fix that line" in message
