"""Helpers for the converter tests: haiku-tiny settings, pickles that attack the loader, folder snapshots."""

from __future__ import annotations

import os
import pickle
import subprocess
from pathlib import Path
from typing import Any

import numpy as np
import torch

FIXTURE_PICKLES = ("params.pickle", "params-legacy.pickle", "params-jax-arrays.pickle")

TINY_HEADS = {"num_cross_attention_heads": 4, "num_self_attention_heads": 4, "decoder_num_cross_attention_heads": 4}
"""haiku-tiny's head counts (manifest.json); the weights do not show them and DeepMind's default is 8."""
TINY_HEADS_ARG = ",".join(f"{key}={value}" for key, value in TINY_HEADS.items())

TRANSFORMERS_SOURCE_CONFIG = dict(
    vocab_size=262,
    max_position_embeddings=40,
    d_model=32,
    d_latents=48,
    num_latents=8,
    num_blocks=2,
    num_self_attends_per_block=2,
    num_self_attention_heads=4,
    num_cross_attention_heads=4,
    qk_channels=16,
    v_channels=48,
    cross_attention_widening_factor=2,
    self_attention_widening_factor=1,
)
"""A small transformers `PerceiverConfig` (the source of the `convert transformers` tests)."""

TOLERANCE = 5e-5  # fp32 noise between two exact implementations is ~1e-5 on haiku-tiny's logits


def fixture_logit_errors(model: torch.nn.Module, fixture_dir: Path) -> tuple[float, float]:
    """Max |logits - DeepMind's logits.npz| of `model` on inputs.npz, at (valid, padded) positions."""
    inputs = np.load(fixture_dir / "inputs.npz")
    reference = np.load(fixture_dir / "logits.npz")["logits"]  # [3, 128, 262]
    with torch.no_grad():
        logits = model(
            input_ids=torch.from_numpy(inputs["input_ids"]).long(),
            attention_mask=torch.from_numpy(inputs["input_mask"]).long(),
        ).logits.numpy()
    error = np.abs(logits - reference).max(axis=-1)  # [3, 128]
    valid = inputs["input_mask"].astype(bool)
    return float(error[valid].max()), float(error[~valid].max())


class RunsOnLoad:
    """Pickles as `callable(*args)`, which an unrestricted unpickler would call while loading."""

    def __init__(self, callable_: Any, *args: Any) -> None:
        self.callable_, self.args = callable_, args

    def __reduce__(self) -> tuple:
        return self.callable_, self.args


def malicious_pickles(marker: Path) -> dict[str, bytes]:
    """Pickles whose unpickling would create `marker`, by the global they call (inside a checkpoint-like dict)."""

    def in_checkpoint(payload: Any) -> bytes:
        return pickle.dumps({"embed": {"embeddings": np.zeros((4, 2), np.float32)}, "evil": {"x": payload}})

    return {
        "posix.system": in_checkpoint(RunsOnLoad(os.system, f"touch {marker}")),
        "io.open": in_checkpoint(RunsOnLoad(open, str(marker), "w")),
        "builtins.exec": in_checkpoint(RunsOnLoad(exec, f"open({str(marker)!r}, 'w').close()")),
        "subprocess.Popen": in_checkpoint(RunsOnLoad(subprocess.Popen, ["touch", str(marker)])),
        # written by hand: the standard pickler names open() "io.open"
        "builtins.open": b"cbuiltins\nopen\n(V" + str(marker).encode() + b"\nVw\ntR.",
    }


def write_pickle(path: Path, obj: Any, protocol: int = pickle.DEFAULT_PROTOCOL) -> Path:
    """Pickle `obj` to `path` with the standard pickler."""
    path.write_bytes(pickle.dumps(obj, protocol=protocol))
    return path


def folder_snapshot(folder: Path) -> dict[str, bytes]:
    """Relative path -> content of every file below `folder` (to check that nothing changed)."""
    return {str(path.relative_to(folder)): path.read_bytes() for path in sorted(folder.rglob("*")) if path.is_file()}


def hidden_leftovers(parent: Path) -> list[str]:
    """Names of hidden staging or backup folders a conversion may have left in `parent`."""
    return sorted(path.name for path in parent.iterdir() if path.name.startswith("."))
