"""The benchmarked configurations and the pair of models (transformers' and ours) holding the same weights."""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path

import torch
from transformers import PerceiverConfig as TransformersPerceiverConfig
from transformers import PerceiverForMaskedLM as TransformersPerceiverForMaskedLM

from perceiver_hf import PerceiverForMaskedLM
from perceiver_hf.convert import convert_transformers_checkpoint


# DeepMind's full-size byte model (deepmind/language-perceiver) in transformers' terms, dropout off.
BYTE_MODEL = dict(
    vocab_size=262,
    max_position_embeddings=2048,
    d_model=768,
    num_latents=256,
    d_latents=1280,
    qk_channels=256,
    v_channels=1280,
    num_self_attends_per_block=26,
    num_blocks=1,
    num_self_attention_heads=8,
    num_cross_attention_heads=8,
    hidden_act="gelu",
    attention_probs_dropout_prob=0.0,
)
# Everything shrunk for CI (transformers' decoder always has 8 heads and q/k 256, so d_model stays a multiple of 8).
SMOKE_SIZES = dict(d_model=16, num_latents=8, d_latents=32, qk_channels=16, v_channels=32,
                   num_self_attends_per_block=2, num_self_attention_heads=2, num_cross_attention_heads=2)


def byte_config(max_seq_len: int = 2048) -> TransformersPerceiverConfig:
    """DeepMind's byte model, handling up to `max_seq_len` bytes."""
    return TransformersPerceiverConfig(**{**BYTE_MODEL, "max_position_embeddings": max_seq_len})


def base_config() -> TransformersPerceiverConfig:
    """Perceiver IO Base: the byte model's stack with a 32,000-token vocabulary and 512 positions."""
    return TransformersPerceiverConfig(**{**BYTE_MODEL, "vocab_size": 32000, "max_position_embeddings": 512})


def smoke_config(max_seq_len: int = 64, vocab_size: int = 262) -> TransformersPerceiverConfig:
    """A tiny configuration for CI."""
    return TransformersPerceiverConfig(
        **{**BYTE_MODEL, **SMOKE_SIZES, "vocab_size": vocab_size, "max_position_embeddings": max_seq_len}
    )


@dataclass
class ModelPair:
    """transformers' model and ours, same weights, both in eval mode."""

    theirs: TransformersPerceiverForMaskedLM
    ours: PerceiverForMaskedLM

    @property
    def config(self) -> TransformersPerceiverConfig:
        return self.theirs.config


def convert_from_transformers(theirs: TransformersPerceiverForMaskedLM) -> PerceiverForMaskedLM:
    """Ours, through the user's path: save transformers' model, `convert_transformers_checkpoint`, from_pretrained."""
    with tempfile.TemporaryDirectory(prefix="perceiver-speed-") as folder:
        theirs.save_pretrained(Path(folder) / "transformers")
        converted = convert_transformers_checkpoint(Path(folder) / "transformers", Path(folder) / "ours", progress=False)
        ours = PerceiverForMaskedLM.from_pretrained(converted, dtype=torch.float32)
    return ours.eval()


def build_pair(config: TransformersPerceiverConfig, seed: int = 0) -> ModelPair:
    """Randomly initialise transformers' model (as `from_config` would) and convert it into ours."""
    torch.manual_seed(seed)
    theirs = TransformersPerceiverForMaskedLM(config).eval()
    return ModelPair(theirs=theirs, ours=convert_from_transformers(theirs))
