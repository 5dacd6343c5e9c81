"""The longest input of the model a tokenizer is loaded with: ``max_seq_len`` of the folder's config.json.

A tokenizer saved without ``model_max_length`` (or with a larger one than its model takes, such as the default of
a fresh tokenizer saved beside a short model) would let ``truncation=True``, the pipelines and run_mlm's
``block_size`` produce inputs the model refuses. `PerceiverByteTokenizer.from_pretrained` asks this module for the
model's ``max_seq_len`` and caps ``model_max_length`` at it.
"""

from __future__ import annotations

import json
from pathlib import Path

from transformers.utils import CONFIG_NAME

MAX_SEQ_LEN_KEY = "max_seq_len"
"""The config.json field of `PerceiverConfig` (transformers' ``max_position_embeddings`` maps to it)."""


def folder_max_seq_len(tokenizer_file: str | None) -> int | None:
    """``max_seq_len`` of the config.json beside ``tokenizer_file`` (a model folder or Hub snapshot), if there is one.

    Returns None when there is no config.json there, when it is not a JSON object or has no positive integer
    ``max_seq_len`` (a tokenizer folder without a model, or another model type).
    """
    if tokenizer_file is None:
        return None
    config_file = Path(tokenizer_file).parent / CONFIG_NAME
    if not config_file.is_file():
        return None
    try:
        config = json.loads(config_file.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return None  # the model's own loading reports a broken config.json
    value = config.get(MAX_SEQ_LEN_KEY) if isinstance(config, dict) else None
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else None


def capped_model_max_length(saved: int | None, max_seq_len: int | None) -> int | None:
    """The tokenizer's ``model_max_length``: the saved one, at most the model's ``max_seq_len``."""
    if max_seq_len is None:
        return saved
    return max_seq_len if saved is None else min(saved, max_seq_len)


def saved_model_max_length(tokenizer_config_file: str | None) -> int | None:
    """``model_max_length`` recorded in tokenizer_config.json (None if the file or the field is missing)."""
    if tokenizer_config_file is None:
        return None
    try:
        saved = json.loads(Path(tokenizer_config_file).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return None  # transformers' loading reports a broken tokenizer_config.json
    value = saved.get("model_max_length") if isinstance(saved, dict) else None
    return value if isinstance(value, int) and not isinstance(value, bool) else None
