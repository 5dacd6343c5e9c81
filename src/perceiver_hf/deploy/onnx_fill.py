"""Fill masks with an exported Perceiver IO model using onnxruntime, numpy and tokenizers only (no torch).

`perceiver-hf export onnx` copies this file into the folder it writes, next to model.onnx and the tokenizer:

    python OUTPUT_DIR/onnx_fill.py OUTPUT_DIR "Some words are m[MASK]ssing." --top-k 3

or, from Python (with OUTPUT_DIR on sys.path, or with perceiver-hf installed):

    from onnx_fill import OnnxFillMask            # perceiver_hf.deploy.onnx_fill with the package
    fill = OnnxFillMask(OUTPUT_DIR)
    fill(["Some words are m[MASK]ssing."], top_k=3)   # per text, per mask: [(token, probability), ...]

The model's inputs are input_ids [B, L] and attention_mask [B, L] (int64) and output_positions [B, K] (int64,
the positions to decode, -1 for an unused slot); its output is logits [B, K, V]. This file imports nothing from
perceiver_hf, so it also runs where only `pip install onnxruntime tokenizers numpy` is available.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Optional, Sequence, Union

import numpy as np
import onnxruntime
from tokenizers import Tokenizer

MODEL_FILE = "model.onnx"
Predictions = list[list[tuple[str, float]]]  # per mask: (token, probability), best first


class OnnxFillMask:
    """Fill-mask on `folder`/model.onnx (or `model_file`) with `folder`'s tokenizer.json and tokenizer_config.json."""

    def __init__(self, folder: Union[str, Path], model_file: str = MODEL_FILE, threads: Optional[int] = None) -> None:
        folder = Path(folder)
        options = onnxruntime.SessionOptions()
        if threads:
            options.intra_op_num_threads = threads
        self.session = onnxruntime.InferenceSession(
            str(folder / model_file), options, providers=["CPUExecutionProvider"]
        )
        self.tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
        settings = json.loads((folder / "tokenizer_config.json").read_text(encoding="utf-8"))
        self.max_length = int(settings.get("model_max_length") or 0)
        self.mask_id = self._token_id(settings.get("mask_token") or "[MASK]")
        self.pad_id = self._token_id(settings.get("pad_token") or "[PAD]")

    def _token_id(self, token: Union[str, dict]) -> int:
        text = token["content"] if isinstance(token, dict) else token
        token_id = self.tokenizer.token_to_id(text)
        if token_id is None:
            raise ValueError(f"The tokenizer has no token {text!r}; export the model with its own tokenizer.")
        return token_id

    def encode(self, texts: Sequence[str]) -> dict[str, np.ndarray]:
        """Token ids [B, L] and mask [B, L], padded on the right, and the mask positions [B, K] (-1 = unused)."""
        rows = [self.tokenizer.encode(text).ids for text in texts]
        for text, ids in zip(texts, rows):
            if self.max_length and len(ids) > self.max_length:
                raise ValueError(
                    f"{text[:30]!r}... has {len(ids)} tokens but this model handles at most {self.max_length}; "
                    "shorten the text."
                )
            if self.mask_id not in ids:
                raise ValueError(f"No mask token in {text[:30]!r}; mark the position to fill with the mask token.")
        seq_len = max(len(ids) for ids in rows)
        input_ids = np.full((len(rows), seq_len), self.pad_id, dtype=np.int64)  # [B, L]
        attention_mask = np.zeros((len(rows), seq_len), dtype=np.int64)  # [B, L]
        masks = [[i for i, token in enumerate(ids) if token == self.mask_id] for ids in rows]
        positions = np.full((len(rows), max(len(m) for m in masks)), -1, dtype=np.int64)  # [B, K]
        for row, (ids, where) in enumerate(zip(rows, masks)):
            input_ids[row, : len(ids)] = ids
            attention_mask[row, : len(ids)] = 1
            positions[row, : len(where)] = where
        return {"input_ids": input_ids, "attention_mask": attention_mask, "output_positions": positions}

    def logits(self, inputs: dict[str, np.ndarray]) -> np.ndarray:
        """The model's logits [B, K, V] for `encode`'s inputs."""
        return self.session.run(["logits"], inputs)[0]

    def __call__(self, texts: Sequence[str], top_k: int = 5) -> list[Predictions]:
        """Per text, per mask token (in order): the `top_k` tokens and their probabilities."""
        inputs = self.encode(list(texts))
        logits = self.logits(inputs)  # [B, K, V]
        shifted = np.exp(logits - logits.max(axis=-1, keepdims=True))
        probabilities = shifted / shifted.sum(axis=-1, keepdims=True)  # [B, K, V]
        results = []
        for row, positions in enumerate(inputs["output_positions"]):
            per_mask = []
            for slot in np.flatnonzero(positions >= 0):
                best = np.argsort(-probabilities[row, slot])[:top_k]
                per_mask.append([(self.tokenizer.decode([int(i)]), float(probabilities[row, slot, i])) for i in best])
            results.append(per_mask)
        return results


def main(argv: Optional[Sequence[str]] = None) -> int:
    """`python onnx_fill.py FOLDER TEXT... [--top-k N]`: print the best tokens for every mask of every text."""
    parser = argparse.ArgumentParser(description="Fill masks with an exported Perceiver IO model (onnxruntime).")
    parser.add_argument("folder", type=Path)
    parser.add_argument("texts", nargs="+")
    parser.add_argument("--top-k", type=int, default=5)
    parser.add_argument("--model-file", default=MODEL_FILE, help="e.g. model_int8.onnx")
    args = parser.parse_args(argv)
    try:
        results = OnnxFillMask(args.folder, args.model_file)(args.texts, top_k=args.top_k)
    except ValueError as error:
        print(f"onnx_fill: error: {error}", file=sys.stderr)
        return 1
    for text, per_mask in zip(args.texts, results):
        print(text)
        for number, predictions in enumerate(per_mask, 1):
            print(f"  mask {number}: " + ", ".join(f"{token!r} {p:.3f}" for token, p in predictions))
    return 0


if __name__ == "__main__":
    sys.exit(main())
