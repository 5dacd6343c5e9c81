"""FSDP2 sharding of a Perceiver IO model as `configs/accelerate/fsdp.yaml` asks for it (torch's `fully_shard`).

accelerate's FSDP plugin does the same (`fsdp_auto_wrap_policy: TRANSFORMER_BASED_WRAP` with
`fsdp_transformer_layer_cls_to_wrap`): every listed layer becomes its own FSDP unit, then the root module
holds the rest (embedding, position encoding, latent and query arrays, the tied output head). accelerate 1.16
applies it only on accelerators: with `--use_cpu` (gloo) it silently keeps DDP (docs/training.md, "FSDP2
on CPU"), so CPU runs and the test (tests/test_train_fsdp.py) call this function directly.
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import torch
from torch.distributed.fsdp import FSDPModule, fully_shard

DEFAULT_UNITS = ("CrossAttentionLayer", "SelfAttentionLayer")


def fsdp_units_from_accelerate_config(path: str | Path) -> tuple[str, ...]:
    """The class names of `fsdp_config.fsdp_transformer_layer_cls_to_wrap` in an accelerate config file."""
    import yaml

    config = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    names = (config.get("fsdp_config") or {}).get("fsdp_transformer_layer_cls_to_wrap")
    if not names:
        raise ValueError(f"{path}: no fsdp_config.fsdp_transformer_layer_cls_to_wrap; list the layer classes to shard.")
    return tuple(name.strip() for name in str(names).split(","))


def shard_model(
    model: torch.nn.Module, unit_classes: Sequence[str] = DEFAULT_UNITS, reshard_after_forward: bool = True
) -> FSDPModule:
    """Apply `fully_shard` to every module whose class is named in `unit_classes`, then to `model` (in place).

    Needs an initialised process group (gloo on CPU). Raises ValueError when no module matches, so a renamed
    layer class cannot silently leave the model as a single unit.
    """
    units = [module for module in model.modules() if type(module).__name__ in unit_classes]
    if not units:
        names = ", ".join(unit_classes)
        raise ValueError(f"No module of class {names} in {type(model).__name__}: fix the FSDP unit classes.")
    for unit in units:
        fully_shard(unit, reshard_after_forward=reshard_after_forward)
    return fully_shard(model, reshard_after_forward=reshard_after_forward)


__all__ = ["DEFAULT_UNITS", "fsdp_units_from_accelerate_config", "shard_model"]
