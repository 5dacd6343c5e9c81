"""Tiny saved classifier folders (model + a fresh `PerceiverByteTokenizer`), what `pipeline(model=folder)` loads."""

from __future__ import annotations

from pathlib import Path

from conftest import make_tiny_config, randomize_

from perceiver_hf import PerceiverByteTokenizer


def save_classifier_folder(head: type, folder: Path, num_labels: int = 3, **config: object) -> Path:
    """Save a randomized tiny `head` (e.g. PerceiverForTokenClassification) and a fresh tokenizer into `folder`.

    The fresh tokenizer says model_max_length=2048 whatever the model's `max_seq_len` (128 by default): loading
    the folder must cap it.
    """
    model = randomize_(head(make_tiny_config(num_labels=num_labels, **config))).eval()
    model.save_pretrained(folder)
    PerceiverByteTokenizer().save_pretrained(folder)
    return folder
