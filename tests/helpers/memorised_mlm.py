"""A tiny byte-level masked language model trained to memorise two sentences, for end-to-end fill-mask tests.

The two sentences differ only in two words, and the masked word of one depends on the other word of the same
sentence ("incomplete ... missing." vs "unfinished ... omitted."), so filling " missing." back in checks that
the whole path (tokenizer, model, decoding of chosen positions, pipelines) works and uses the context.
Training is deterministic and takes a few seconds on one CPU thread.
"""

from __future__ import annotations

from pathlib import Path

import torch

from perceiver_hf import PerceiverByteTokenizer, PerceiverConfig, PerceiverForMaskedLM

SENTENCE = "This is an incomplete sentence where some words are missing."
OTHER_SENTENCE = "This is an unfinished sentence where some words are omitted."
MASKED_WORD = " missing."
OTHER_MASKED_WORD = " omitted."


def train_memorised_model(
    config: PerceiverConfig, steps: int = 200, seed: int = 0, mask_probability: float = 0.3
) -> PerceiverForMaskedLM:
    """Train `PerceiverForMaskedLM(config)` with random byte masking on `SENTENCE` and `OTHER_SENTENCE`.

    The weights start from conftest's `randomize_` (large values put the attention far from uniform, so a couple
    of hundred AdamW steps suffice; from the std-0.02 initialisation the loss stalls at the unigram level).
    200 steps recover both masked words for seeds 0-3. Returns the model in eval mode.
    """
    from conftest import randomize_  # tests/ is on sys.path under pytest

    tokenizer = PerceiverByteTokenizer()
    ids = torch.tensor(tokenizer([SENTENCE, OTHER_SENTENCE])["input_ids"])  # [2, L] (same length)
    torch.manual_seed(seed)
    model = randomize_(PerceiverForMaskedLM(config), seed).train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3)
    generator = torch.Generator().manual_seed(seed)
    batch = ids.repeat(8, 1)  # [16, L]
    for _ in range(steps):
        masked = torch.rand(batch.shape, generator=generator) < mask_probability  # [16, L]
        labels = torch.where(masked, batch, torch.full_like(batch, -100))
        loss = model(batch.masked_fill(masked, tokenizer.mask_token_id), labels=labels).loss
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return model.eval()


def save_memorised_model_folder(folder: Path) -> Path:
    """Train the memorised model on the tests' tiny config and save it with its tokenizer into `folder`."""
    from conftest import make_tiny_config

    return save_model_folder(train_memorised_model(make_tiny_config()), folder)


def save_model_folder(model: PerceiverForMaskedLM, folder: Path) -> Path:
    """Save `model` and a `PerceiverByteTokenizer` into `folder` (what `pipeline(model=folder)` loads)."""
    model.save_pretrained(folder)
    PerceiverByteTokenizer().save_pretrained(folder)
    return folder
