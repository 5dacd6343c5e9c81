"""Models shipped inside the package, usable offline with any `from_pretrained`.

    from transformers import AutoModelForMaskedLM, AutoTokenizer
    import perceiver_hf

    path = perceiver_hf.pretrained_model_path()          # the default, "perceiver-bytes-small"
    model = AutoModelForMaskedLM.from_pretrained(path)
    tokenizer = AutoTokenizer.from_pretrained(path)

Each model is a folder (config.json, model.safetensors, tokenizer files, README.md model card) next to
this file; scripts/pretrained/ in the repository rebuilds them.
"""

from __future__ import annotations

from pathlib import Path
from typing import List

DEFAULT_MODEL = "perceiver-bytes-small"
"""Name of the model `perceiver-hf fill` uses when no model is named."""

_PRETRAINED_DIR = Path(__file__).resolve().parent


def available_models() -> List[str]:
    """Names of the models shipped with this installation (folders holding a config.json), sorted."""
    return sorted(path.parent.name for path in _PRETRAINED_DIR.glob("*/config.json"))


def pretrained_model_path(name: str = DEFAULT_MODEL) -> Path:
    """Folder of the shipped model `name`, ready for `from_pretrained`.

    Raises:
        ValueError: no shipped model has that name (the message lists the ones that exist).
    """
    path = _PRETRAINED_DIR / name
    if "/" in name or "\\" in name or not (path / "config.json").is_file():
        available = ", ".join(available_models()) or "none (this installation ships no model files)"
        raise ValueError(f"No shipped pretrained model named {name!r}; available: {available}.")
    return path


__all__ = ["DEFAULT_MODEL", "available_models", "pretrained_model_path"]
