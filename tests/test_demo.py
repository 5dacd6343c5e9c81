"""The main command (`make demo` = `python examples/demo.py`) runs offline and fills masked words."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from transformers import AutoModelForMaskedLM

from perceiver_hf import PerceiverForMaskedLM, pretrained_model_path

DEMO = Path(__file__).resolve().parents[1] / "examples" / "demo.py"
OFFLINE = {**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1"}


def run_demo(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(DEMO), *args], capture_output=True, text=True, env=OFFLINE, timeout=300)


def test_demo_fills_the_notebook_sentence_with_the_shipped_model(tmp_path: Path) -> None:
    saved = tmp_path / "demo-model"
    result = run_demo("--output-dir", str(saved))
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert out.startswith("perceiver-bytes-small: PerceiverForMaskedLM, ")
    # the notebook's sentence with " missing" masked: 7 blanks after the space, then what the model put there
    assert "This is an incomplete sentence where some words are _______.\n  masked ' missing' -> predicted ' " in out
    assert out.count("-> predicted ") == 5
    assert "fill-mask 'This is an incomplete sentence where some words are m[MASK]ssing.': " in out
    # the folder it wrote is a complete model folder the README's other examples can load
    assert isinstance(AutoModelForMaskedLM.from_pretrained(saved), PerceiverForMaskedLM)
    # with the shipped model's card, so that `perceiver-hf export-hub demo-model ...` exports one
    assert (saved / "README.md").read_bytes() == (pretrained_model_path() / "README.md").read_bytes()


def test_demo_takes_sentences_and_words_and_rejects_a_word_not_in_its_sentence() -> None:
    result = run_demo("The default value is None.", "value")
    assert result.returncode == 0, result.stderr
    assert "The default _____ is None.\n  masked ' value' -> predicted ' " in result.stdout
    assert "fill-mask 'The default v[MASK]lue is None.': " in result.stdout  # the user's sentence, not a fixed one
    assert "Some words" not in result.stdout

    result = run_demo("Python is easy to learn.", "Python")  # a first word has no space before it
    assert result.returncode == 0, result.stderr
    assert "\n______ is easy to learn.\n  masked 'Python' -> predicted '" in result.stdout

    result = run_demo("The default value is None.", "missing")
    assert result.returncode != 0
    assert "'missing' does not occur in 'The default value is None.'" in result.stderr
