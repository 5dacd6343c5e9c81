"""Fixtures of the robustness tests (import them into a test module): small sources copied into tmp_path."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Callable

import pytest
from helpers.conversion import TRANSFORMERS_SOURCE_CONFIG
from transformers import PerceiverConfig as TransformersPerceiverConfig
from transformers import PerceiverForMaskedLM as TransformersPerceiverForMaskedLM

from perceiver_hf import PerceiverByteTokenizer


@pytest.fixture(scope="session")
def transformers_source_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small transformers `PerceiverForMaskedLM` folder (read only: tests copy it)."""
    folder = tmp_path_factory.mktemp("template") / "source"
    TransformersPerceiverForMaskedLM(TransformersPerceiverConfig(**TRANSFORMERS_SOURCE_CONFIG)).save_pretrained(folder)
    return folder


@pytest.fixture
def transformers_source(tmp_path: Path, transformers_source_template: Path) -> Path:
    """A private copy of the transformers source folder, at tmp_path/src."""
    return Path(shutil.copytree(transformers_source_template, tmp_path / "src"))


@pytest.fixture
def haiku_copy(tmp_path: Path, haiku_tiny_dir: Path) -> Path:
    """tmp_path/m/params.pickle (with a sibling file), a private copy of the haiku-tiny parameters."""
    folder = tmp_path / "m"
    folder.mkdir()
    shutil.copy(haiku_tiny_dir / "params.pickle", folder / "params.pickle")
    (folder / "notes.txt").write_text("the user's notes")
    return folder / "params.pickle"


@pytest.fixture
def saved_model(tmp_path: Path, tiny_model: Callable) -> Path:
    """A perceiver-hf model folder with its tokenizer, at tmp_path/model."""
    folder = tmp_path / "model"
    tiny_model().save_pretrained(folder)
    PerceiverByteTokenizer().save_pretrained(folder)
    return folder
