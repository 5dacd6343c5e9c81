"""FSDP2 sharding of a Perceiver IO model with transformers' distributed engine, for CPU (gloo) training runs.

Units as `configs/accelerate/fsdp.yaml` asks for them (`fsdp_transformer_layer_cls_to_wrap`; none named: the
model's `_no_split_modules`, as accelerate does): every listed layer becomes its own FSDP unit, then the root module holds the rest (embedding, position encoding, latent and query
arrays, the tied output head). The sharding itself is transformers' (`model.fsdp_plan` + `DistributedConfig`,
what `from_pretrained(..., distributed_config=...)` applies): `Trainer` then leaves the model's gradient
reduction to FSDP (no DDP wrapper) and `save_pretrained` gathers the full state dict on rank 0.

Why not accelerate's FSDP plugin: accelerate 1.16's `AcceleratorState` switches to `DistributedType.FSDP` only
for accelerator backends (MULTI_GPU/NPU/XPU/...); a CPU run (`MULTI_CPU`, gloo) keeps DistributedDataParallel
without a word (docs/training.md, "FSDP2 on CPU"). `shard_for_training` fills that gap: a run that asks for FSDP
(`accelerate launch` with an FSDP config, or `--fsdp`) on several CPU processes is sharded here; on GPUs
accelerate's plugin does it and this module does nothing.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping, Optional, Sequence

import torch
from transformers import PreTrainedModel, TrainingArguments

logger = logging.getLogger(__name__)

DEFAULT_UNITS = ("CrossAttentionLayer", "SelfAttentionLayer")


@dataclass(frozen=True)
class FsdpRequest:
    """What a run asked FSDP for: the layer classes that become units (None: the model's `_no_split_modules`, as
    accelerate does without `fsdp_transformer_layer_cls_to_wrap`), and whether they free their full weights."""

    units: Optional[tuple[str, ...]] = None
    reshard_after_forward: bool = True

    def unit_classes(self, model: torch.nn.Module) -> tuple[str, ...]:
        """The unit class names for `model`: those asked for, else its `_no_split_modules` (else `DEFAULT_UNITS`),
        sorted (transformers makes a built model's `_no_split_modules` a set, whose order varies between runs)."""
        return self.units or tuple(sorted(getattr(model, "_no_split_modules", None) or DEFAULT_UNITS))


def _names(value: object) -> tuple[str, ...]:
    items = value if isinstance(value, (list, tuple)) else str(value).split(",")
    return tuple(name.strip() for name in items if str(name).strip())


def _flag(value: object) -> bool:
    return str(value).strip().lower() in ("1", "true", "yes")


def fsdp_units_from_accelerate_config(path: str | Path) -> tuple[str, ...]:
    """The class names of `fsdp_config.fsdp_transformer_layer_cls_to_wrap` in an accelerate config file."""
    import yaml

    config = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    names = (config.get("fsdp_config") or {}).get("fsdp_transformer_layer_cls_to_wrap")
    if not names:
        raise ValueError(f"{path}: no fsdp_config.fsdp_transformer_layer_cls_to_wrap; list the layer classes to shard.")
    return _names(names)


def fsdp_request(training_args: TrainingArguments, environ: Mapping[str, str] = os.environ) -> Optional[FsdpRequest]:
    """The FSDP a run asked for, or None: `accelerate launch` with an FSDP config (it exports ACCELERATE_USE_FSDP
    and FSDP_* variables) or `--fsdp` (units from `--fsdp_config`'s transformer_layer_cls_to_wrap)."""
    if _flag(environ.get("ACCELERATE_USE_FSDP", "false")):
        units = _names(environ.get("FSDP_TRANSFORMER_CLS_TO_WRAP", "")) or None
        return FsdpRequest(units, _flag(environ.get("FSDP_RESHARD_AFTER_FORWARD", "true")))
    if training_args.fsdp:
        config = training_args.fsdp_config or {}
        units = _names(config.get("transformer_layer_cls_to_wrap") or ()) or None
        return FsdpRequest(units, _flag(config.get("reshard_after_forward", True)))
    return None


def fsdp_plan(
    model: torch.nn.Module, unit_classes: Sequence[str], reshard_after_forward: bool = True
) -> dict[str, str]:
    """transformers' FSDP plan naming every module whose class is in `unit_classes` (ValueError when none is).

    Layer numbers are written as `*` (`perceiver.encoder.self_attention.layers.*`), as the plans transformers
    matches modules against are.
    """
    from transformers.distributed.parallel_utils import replace_layer_number_by_wildcard

    style = "free_full_weight" if reshard_after_forward else "keep_full_weight"
    plan = {
        replace_layer_number_by_wildcard(name): style
        for name, module in model.named_modules()
        if type(module).__name__ in unit_classes
    }
    if not plan:
        names = ", ".join(unit_classes)
        raise ValueError(f"No module of class {names} in {type(model).__name__}: fix the FSDP unit classes.")
    return plan


def shard_model(
    model: PreTrainedModel, unit_classes: Sequence[str] = DEFAULT_UNITS, reshard_after_forward: bool = True
) -> PreTrainedModel:
    """Shard `model` in place over all processes of the initialised group: `fully_shard` on every module whose
    class is named in `unit_classes`, then on the root, through transformers' engine (see the module docstring)."""
    from transformers.distributed import DistributedConfig

    config = DistributedConfig(fsdp_size=torch.distributed.get_world_size())
    model.fsdp_plan = fsdp_plan(model, unit_classes, reshard_after_forward)
    config, _, mesh = model.prepare_distribute_model(config)
    return model.maybe_distribute_model(model, config, mesh)


def local_parameter_share(model: torch.nn.Module) -> tuple[int, int]:
    """(elements this process holds, elements of the whole model) over the parameters of a sharded model."""
    local = sum(p.to_local().numel() if hasattr(p, "to_local") else p.numel() for p in model.parameters())
    return local, sum(p.numel() for p in model.parameters())


def _sharded_on_cpu(training_args: TrainingArguments) -> Optional[FsdpRequest]:
    """The FSDP request of a run this module shards (FSDP asked for, on the CPU), else None."""
    request = fsdp_request(training_args)
    return request if request is not None and training_args.device.type == "cpu" else None


def prepare_cpu_fsdp_run(training_args: TrainingArguments) -> None:
    """Check a CPU FSDP run before anything is loaded, and make each of its processes load the full weights.

    Raises ValueError for what cannot work: FSDP asked for in processes that each train alone (no --use_cpu on a
    machine without GPUs), or checkpoints with optimizer state (transformers cannot resume a model it sharded).
    accelerate's `fsdp_cpu_ram_efficient_loading: true` (configs/accelerate/fsdp.yaml) makes `from_pretrained`
    load the weights on rank 0 only and leave the other ranks' on the meta device, for accelerate's plugin to
    broadcast when it wraps the model, which it does not do on CPU: FSDP would stop at the first step ("FSDP
    parameters should be materialized from meta device before training"), so it is turned off here.
    """
    if _sharded_on_cpu(training_args) is None:
        return
    started = int(os.environ.get("WORLD_SIZE", "1"))
    if training_args.world_size < started:
        raise ValueError(
            f"FSDP: {started} processes were started but each trains alone; on a machine without GPUs pass --use_cpu."
        )
    if training_args.world_size < 2:
        logger.warning("FSDP was asked for, but the run has a single process: nothing to shard.")
        return
    if training_args.save_strategy != "no" and not training_args.save_only_model:
        raise ValueError(
            "FSDP on CPU saves no optimizer state (a run cannot be resumed): pass --save_only_model true or "
            "--save_strategy no."
        )
    if _flag(os.environ.get("FSDP_CPU_RAM_EFFICIENT_LOADING", "false")):
        os.environ["FSDP_CPU_RAM_EFFICIENT_LOADING"] = "false"
        logger.info("FSDP on CPU: every process loads the full weights (fsdp_cpu_ram_efficient_loading is for GPUs).")


def shard_for_training(model: PreTrainedModel, training_args: TrainingArguments) -> PreTrainedModel:
    """Shard `model` when the run asked for FSDP and runs on several CPU processes; else return it unchanged.
    `prepare_cpu_fsdp_run` checks such a run first."""
    request = _sharded_on_cpu(training_args)
    if request is None or training_args.world_size < 2:
        return model  # no FSDP, accelerate's plugin applies it on the accelerators, or nothing to shard
    units = request.unit_classes(model)
    shard_model(model, units, request.reshard_after_forward)
    local, total = local_parameter_share(model)
    logger.info(
        "FSDP2 on CPU: %s units sharded over %d processes; this process holds %s of %s parameters",
        ", ".join(units), training_args.world_size, f"{local:,}", f"{total:,}",
    )
    return model


__all__ = [
    "DEFAULT_UNITS",
    "FsdpRequest",
    "fsdp_plan",
    "fsdp_request",
    "fsdp_units_from_accelerate_config",
    "local_parameter_share",
    "prepare_cpu_fsdp_run",
    "shard_for_training",
    "shard_model",
]
