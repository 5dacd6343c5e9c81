"""Issue 14 item 11: `convert transformers` on a broken SOURCE: one line naming the file, the problem and the fix,
exit code 1, nothing written."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from helpers.sources import transformers_source, transformers_source_template  # noqa: F401 (fixtures)
from helpers.tree import changed_outside, tree_snapshot

from perceiver_hf.cli import main


def _edit_config(source: Path, **changes: object) -> None:
    config = json.loads((source / "config.json").read_text())
    config.update(changes)
    (source / "config.json").write_text(json.dumps(config))


def _truncate(source: Path) -> None:
    weights = source / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:200])


CASES = {
    "truncated weights": (_truncate, "model.safetensors", "truncated"),
    "empty weights": (lambda s: (s / "model.safetensors").write_bytes(b""), "model.safetensors", "safetensors"),
    "garbage weights": (lambda s: (s / "model.safetensors").write_bytes(b"x" * 5000), "model.safetensors", "safetensors"),
    "no weights": (lambda s: (s / "model.safetensors").unlink(), "model.safetensors", "does not exist"),
    "negative d_model": (lambda s: _edit_config(s, d_model=-16), "config.json", "d_model must be a positive integer"),
    "zero latents": (lambda s: _edit_config(s, num_latents=0), "config.json", "num_latents must be a positive"),
    "vocab mismatch": (lambda s: _edit_config(s, vocab_size=300), "config.json", "does not describe the weights"),
    "bad hidden_act": (lambda s: _edit_config(s, hidden_act="nonsense"), "config.json", "hidden_act 'nonsense'"),
    "string for an int": (lambda s: _edit_config(s, num_blocks="two"), "config.json", "num_blocks"),
    "garbage config": (lambda s: (s / "config.json").write_text("{not json"), "config.json", "cannot load"),
}


@pytest.mark.parametrize("case", list(CASES))
def test_bad_source_is_one_line_and_writes_nothing(
    transformers_source: Path, tmp_path: Path, capsys: pytest.CaptureFixture, case: str
) -> None:
    damage, file_name, problem = CASES[case]
    damage(transformers_source)
    before = tree_snapshot(tmp_path)
    assert main(["convert", "transformers", str(transformers_source), str(tmp_path / "out"), "--quiet"]) == 1
    assert changed_outside(before, tree_snapshot(tmp_path)) == []
    message = capsys.readouterr().err.strip()
    assert len(message.splitlines()) == 1, message
    assert file_name in message and problem in message, message


def test_source_that_is_a_file(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    (tmp_path / "model.safetensors").write_bytes(b"x")
    before = tree_snapshot(tmp_path)
    assert main(["convert", "transformers", str(tmp_path / "model.safetensors"), str(tmp_path / "out"), "--quiet"]) == 1
    assert changed_outside(before, tree_snapshot(tmp_path)) == []
    message = capsys.readouterr().err.strip()
    assert len(message.splitlines()) == 1 and "is a file" in message and "model.safetensors" in message, message
