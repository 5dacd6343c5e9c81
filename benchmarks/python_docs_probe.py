"""How far a Perceiver IO encoder beats the majority class on the committed sample of the Python docs task.

A stand-in for the sequence-classification head (which this measurement predates): the encoder's latents
[B, N, D], mean-pooled over N, then a linear layer -> [B, num_labels], on the first `max_seq_len` bytes of
each paragraph. Three settings, all scored on tests/data/python_docs_task/sequence/heldout.jsonl (10 paragraphs
per class from held-out pages, so the majority class scores 1/6):

- `probe`: the shipped `perceiver-bytes-small` frozen, a logistic regression on its pooled latents;
- `probe-random`: the same architecture with random weights (seed 0), the same probe;
- `tiny-finetune`: the `tiny` preset from scratch, encoder + linear layer trained end to end with AdamW for
  `--steps` steps of batch 16 (the budget of the planned fine-tuning test), seeds 0..`--seeds`-1;
- `tiny-finetune token`: the same for the token task (token/*.jsonl): the decoder's output at every byte
  position [B, L, C] -> linear -> [B, L, 3] BIO tags, scored by `token_scores` against "all O";
- `shipped-finetune token`: the same from `perceiver-bytes-small` (64 bytes, lr 3e-4), seeds 0 and 1.

    python benchmarks/python_docs_probe.py
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Dict, List, Sequence

import torch

from python_docs_baselines import TAG_IDS, accuracy_and_macro_f1, fit_logistic, read_jsonl, token_scores

from perceiver_hf import PerceiverConfig, PerceiverModel
from perceiver_hf.pretrained import pretrained_model_path
from perceiver_hf.training.presets import tiny

SAMPLE = Path(__file__).resolve().parents[1] / "tests" / "data" / "python_docs_task" / "sequence"


def encode(texts: Sequence[str], max_len: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Byte ids (byte + 6, the package tokenizer's ids) of the first `max_len` bytes, right-padded: [B, L] x 2."""
    ids = torch.zeros(len(texts), max_len, dtype=torch.long)
    mask = torch.zeros(len(texts), max_len, dtype=torch.long)
    for row, text in enumerate(texts):
        data = list(text.encode("utf-8"))[:max_len]
        ids[row, : len(data)] = torch.tensor(data) + 6
        mask[row, : len(data)] = 1
    return ids, mask


def pooled_latents(model: PerceiverModel, ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean over the latents after the last self-attention layer: [B, D]."""
    outputs = model(ids, attention_mask=mask, output_hidden_states=True)
    return outputs.hidden_states[-1].mean(1)


def probe(model: PerceiverModel, train: List[dict], heldout: List[dict], labels: List[str]) -> Dict[str, float]:
    """Frozen encoder, logistic regression on its pooled latents."""
    model.eval()
    with torch.no_grad():
        features = {
            name: pooled_latents(model, *encode([r["text"] for r in rows], model.config.max_seq_len))
            for name, rows in (("train", train), ("heldout", heldout))
        }
    y_train = torch.tensor([labels.index(r["label"]) for r in train])
    y_heldout = torch.tensor([labels.index(r["label"]) for r in heldout])
    classifier = fit_logistic(features["train"], y_train, len(labels))
    with torch.no_grad():
        predicted = classifier(features["heldout"]).argmax(-1)
    return accuracy_and_macro_f1(predicted, y_heldout, len(labels))


def finetune(seed: int, steps: int, train: List[dict], heldout: List[dict], labels: List[str]) -> Dict[str, float]:
    """`tiny` encoder + linear layer on pooled latents, trained end to end from scratch."""
    torch.manual_seed(seed)
    config = tiny(max_seq_len=128)
    encoder = PerceiverModel(config)
    head = torch.nn.Linear(config.num_latent_channels, len(labels))
    parameters = [*encoder.parameters(), *head.parameters()]
    optimiser = torch.optim.AdamW(parameters, lr=1e-3)
    ids, mask = encode([r["text"] for r in train], config.max_seq_len)
    targets = torch.tensor([labels.index(r["label"]) for r in train])
    generator = torch.Generator().manual_seed(seed)
    for _ in range(steps):
        batch = torch.randint(len(train), (16,), generator=generator)
        logits = head(pooled_latents(encoder, ids[batch], mask[batch]))
        loss = torch.nn.functional.cross_entropy(logits, targets[batch])
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
    encoder.eval()
    with torch.no_grad():
        predicted = head(pooled_latents(encoder, *encode([r["text"] for r in heldout], config.max_seq_len))).argmax(-1)
    y_heldout = torch.tensor([labels.index(r["label"]) for r in heldout])
    return accuracy_and_macro_f1(predicted, y_heldout, len(labels))


def token_targets(rows: List[dict], max_len: int) -> torch.Tensor:
    """Tag ids of the first `max_len` bytes, -100 on padding: [B, L]."""
    targets = torch.full((len(rows), max_len), -100, dtype=torch.long)
    for row, example in enumerate(rows):
        tags = [TAG_IDS[tag] for tag in example["labels"][:max_len]]
        targets[row, : len(tags)] = torch.tensor(tags)
    return targets


def finetune_token(
    model: PerceiverModel, seed: int, steps: int, lr: float, train: List[dict], heldout: List[dict]
) -> Dict[str, float]:
    """`model` + linear layer on every position's decoder output, trained end to end (first max_seq_len bytes)."""
    torch.manual_seed(seed)
    max_len = model.config.max_seq_len
    head = torch.nn.Linear(model.config.num_input_channels, len(TAG_IDS))
    optimiser = torch.optim.AdamW([*model.parameters(), *head.parameters()], lr=lr)
    ids, mask = encode([r["text"] for r in train], max_len)
    targets = token_targets(train, max_len)
    generator = torch.Generator().manual_seed(seed)
    for _ in range(steps):
        batch = torch.randint(len(train), (16,), generator=generator)
        logits = head(model(ids[batch], attention_mask=mask[batch]).last_hidden_state)  # [16, L, 3]
        loss = torch.nn.functional.cross_entropy(logits.flatten(0, 1), targets[batch].flatten())
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
    model.eval()
    ids, mask = encode([r["text"] for r in heldout], max_len)
    targets = token_targets(heldout, max_len)
    with torch.no_grad():
        predicted = head(model(ids, attention_mask=mask).last_hidden_state).argmax(-1)
    scored = targets != -100
    return {
        "all O": token_scores(torch.zeros_like(targets[scored]), targets[scored]),
        **token_scores(predicted[scored], targets[scored]),
    }


def shipped_copy() -> PerceiverModel:
    """A fresh copy of the shipped `perceiver-bytes-small` encoder-decoder (its MLM head dropped)."""
    return PerceiverModel.from_pretrained(pretrained_model_path())


def tiny_from_scratch(seed: int) -> PerceiverModel:
    """The `tiny` preset (128 positions) with random weights drawn from `seed`."""
    torch.manual_seed(seed)
    return PerceiverModel(tiny(max_seq_len=128))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=48)
    parser.add_argument("--seeds", type=int, default=5)
    args = parser.parse_args(argv)
    torch.set_num_threads(min(2, torch.get_num_threads()))
    train, heldout = read_jsonl(SAMPLE / "train.jsonl"), read_jsonl(SAMPLE / "heldout.jsonl")
    labels = sorted({r["label"] for r in train})
    shipped = PerceiverModel.from_pretrained(pretrained_model_path())
    torch.manual_seed(0)
    random = PerceiverModel(PerceiverConfig.from_pretrained(pretrained_model_path()))
    token = SAMPLE.parent / "token"
    token_train, token_heldout = read_jsonl(token / "train.jsonl"), read_jsonl(token / "heldout.jsonl")
    results = {
        "tiny-finetune token": [
            finetune_token(tiny_from_scratch(seed), seed, args.steps, 1e-3, token_train, token_heldout)
            for seed in range(args.seeds)
        ],
        "shipped-finetune token": [
            finetune_token(shipped_copy(), seed, args.steps, 3e-4, token_train, token_heldout)
            for seed in range(2)
        ],
        "probe perceiver-bytes-small": probe(shipped, train, heldout, labels),
        "probe random weights": probe(random, train, heldout, labels),
        "tiny-finetune": [finetune(seed, args.steps, train, heldout, labels) for seed in range(args.seeds)],
    }
    print(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
