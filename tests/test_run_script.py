"""`python -m perceiver_hf.run_script SCRIPT ARGS...`: transformers' example scripts, unchanged, on perceiver
folders.

The script tests/helpers/example_style_mlm.py is written the way transformers' examples/pytorch scripts are
(HfArgumentParser over dataclasses and TrainingArguments, AutoConfig / AutoTokenizer /
AutoModelForMaskedLM.from_pretrained(--model_name_or_path), DataCollatorForLanguageModeling, Trainer) and imports
nothing from perceiver_hf: run plainly it fails on the unknown model type, run through the launcher it trains.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import make_tiny_model
from helpers.memorised_mlm import save_model_folder

from perceiver_hf import run_script

REPO_SRC = Path(__file__).resolve().parents[1] / "src"

EXAMPLE_SCRIPT = Path(__file__).parent / "helpers" / "example_style_mlm.py"


def launch(*args: str, cwd: Path, module: bool = True) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(REPO_SRC), "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
    command = [sys.executable, "-m", "perceiver_hf.run_script", *args] if module else [sys.executable, *args]
    return subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="module")
def setup(tmp_path_factory) -> tuple[Path, list[str]]:
    root = tmp_path_factory.mktemp("run_script")
    folder = save_model_folder(make_tiny_model(seed=0), root / "model")
    (root / "train.txt").write_text("The quick brown fox jumps over the lazy dog. Zürich, 中文, 😀. " * 20)
    shutil.copy(EXAMPLE_SCRIPT, root / "example_script.py")
    args = [
        "example_script.py", "--model_name_or_path", str(folder), "--train_file", "train.txt", "--output_dir",
        str(root / "out"), "--max_steps", "2", "--per_device_train_batch_size", "2", "--report_to", "none",
        "--use_cpu", "--save_strategy", "no", "--disable_tqdm", "true",
    ]  # fmt: skip
    return root, args


def test_an_example_style_script_trains_a_perceiver_folder_through_the_launcher(setup):
    root, args = setup
    assert not re.search(r"^\s*(import|from)\s+perceiver_hf", (root / "example_script.py").read_text(), re.M)
    done = launch(*args, cwd=root)
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.split("RESULT ", 1)[1].splitlines()[0])
    assert result["config"] == "PerceiverConfig" and result["model"] == "PerceiverForMaskedLM"
    assert result["tokenizer"] == "PerceiverByteTokenizer" and result["block_size"] == 128  # the folder's max_seq_len
    assert result["steps"] == 2 and result["loss"] > 0
    assert result["argv0"] == "example_script.py" and result["name"] == "__main__"


def test_without_the_launcher_the_script_does_not_know_the_model(setup):
    root, args = setup
    done = launch(*args, cwd=root, module=False)
    assert done.returncode != 0 and "model type `perceiver_io`" in done.stderr
    assert "Transformers does not recognize this architecture" in done.stderr


def test_exit_codes_exceptions_and_arguments_pass_through(tmp_path):
    (tmp_path / "exits.py").write_text("import sys\nprint(sys.argv[1:])\nsys.exit(int(sys.argv[1]))\n")
    (tmp_path / "raises.py").write_text("def fail():\n    raise LookupError('from the script')\n\nfail()\n")
    (tmp_path / "helper_module.py").write_text("VALUE = 'beside the script'\n")
    (tmp_path / "imports.py").write_text("import helper_module\nprint(helper_module.VALUE)\n")
    exits = launch("exits.py", "3", "--flag", cwd=tmp_path)
    assert exits.returncode == 3 and "['3', '--flag']" in exits.stdout
    assert launch("exits.py", "0", cwd=tmp_path).returncode == 0
    raises = launch(str(tmp_path / "raises.py"), cwd=tmp_path.parent)
    assert raises.returncode == 1 and "LookupError: from the script" in raises.stderr
    assert 'raises.py", line 2, in fail' in raises.stderr  # the script's own traceback
    assert launch(str(tmp_path / "imports.py"), cwd=tmp_path.parent).stdout.strip() == "beside the script"


@pytest.mark.parametrize(
    "path, message",
    [("missing.py", "no script at 'missing.py'"), ("a_folder", "'a_folder' is a folder, not a script")],
)
def test_a_bad_script_path_is_one_line(tmp_path, path, message):
    (tmp_path / "a_folder").mkdir()
    done = launch(path, "--anything", cwd=tmp_path)
    assert done.returncode == 2 and done.stdout == ""
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"perceiver_hf.run_script: error: {message}")
    assert "Traceback" not in done.stderr


def test_no_script_prints_the_usage(tmp_path):
    done = launch(cwd=tmp_path)
    assert done.returncode == 2 and done.stderr.startswith(run_script.USAGE)


def test_an_unreadable_script_is_one_line(tmp_path, monkeypatch, capsys):
    script = tmp_path / "secret.py"
    script.write_text("print('never')\n")

    def refuse(self, *args, **kwargs):
        raise PermissionError(13, "Permission denied", str(self))

    monkeypatch.setattr(Path, "open", refuse)  # the test may run as root, who can read a chmod 000 file
    assert run_script.main([str(script)]) == 2
    assert capsys.readouterr().err == (
        f"perceiver_hf.run_script: error: cannot read the script {str(script)!r} (Permission denied); "
        "check its permissions\n"
    )
