"""Interleaved timing, FLOP counting and the machine's fp32 matmul peak."""

from __future__ import annotations

import os
import platform
import statistics
import time
from dataclasses import dataclass, field
from typing import Any, Callable

import torch
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils.flop_counter import flop_registry


@dataclass
class Timing:
    """Wall-clock seconds of repeated calls of one function."""

    seconds: list[float] = field(default_factory=list)

    @property
    def median(self) -> float:
        return statistics.median(self.seconds)

    @property
    def best(self) -> float:
        return min(self.seconds)

    def as_dict(self) -> dict[str, Any]:
        return {"median_s": self.median, "best_s": self.best, "runs_s": self.seconds}


def interleaved(functions: dict[str, Callable[[], Any]], repeats: int, warmup: int = 1) -> dict[str, Timing]:
    """Time every function `repeats` times, one call of each per round, so that they share the machine's load.

    The order alternates each round (A B, B A, ...) so that neither function always runs first.
    """
    names = list(functions)
    for _ in range(warmup):
        for name in names:
            functions[name]()
    timings = {name: Timing() for name in names}
    for round_index in range(repeats):
        for name in names if round_index % 2 == 0 else reversed(names):
            start = time.perf_counter()
            functions[name]()
            timings[name].seconds.append(time.perf_counter() - start)
    return timings


def _int_mm_ops(a: torch.Tensor, b: torch.Tensor, out_val: Any = None) -> int:
    return 2 * a.shape[0] * a.shape[1] * b.shape[1]  # int8 multiply-adds, counted like FLOPs


def _onednn_linear_flops(x: torch.Tensor, weight: torch.Tensor, *args: Any, out_val: Any = None) -> int:
    return 2 * x.numel() * weight.shape[0]  # x [..., K] @ packed weight [N, K]^T


_EXTRA_FORMULAS = {torch.ops.aten._int_mm: _int_mm_ops}
if hasattr(torch.ops.mkldnn, "_linear_pointwise"):  # the roofline case's oneDNN reference matmul
    _EXTRA_FORMULAS[torch.ops.mkldnn._linear_pointwise] = _onednn_linear_flops


class _FlopCounter(TorchDispatchMode):
    """Adds up torch's own FLOP formulas (`flop_registry`: matmuls, convolutions, attention) for every op run,
    plus oneDNN linears and int8 matmuls (`torch._int_mm`, multiply-adds counted as two operations).

    torch's FlopCounterMode does the same but also tracks modules, which fails under inference_mode.
    """

    def __init__(self) -> None:
        super().__init__()
        self.flops = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):  # type: ignore[no-untyped-def]
        kwargs = kwargs or {}
        formula = flop_registry.get(func._overloadpacket) or _EXTRA_FORMULAS.get(func._overloadpacket)
        if formula is None:
            # Under inference_mode composite ops (linear, matmul) arrive whole: count their decomposition.
            with self:
                out = func.decompose(*args, **kwargs)
            if out is not NotImplemented:
                return out
        out = func(*args, **kwargs)
        if formula is not None:
            self.flops += int(formula(*args, **kwargs, out_val=out))
        return out


def count_flops(function: Callable[[], Any]) -> tuple[int, Any]:
    """Floating-point operations of one call of `function` (matmuls and attention, forward and backward),
    and what the call returned."""
    with _FlopCounter() as counter:
        output = function()
    return counter.flops, output


def matmul_peak(size: int, repeats: int) -> Timing:
    """Time torch.matmul of two [size, size] fp32 matrices (2 * size**3 FLOP per call)."""
    a = torch.randn(size, size)
    b = torch.randn(size, size)
    return interleaved({"matmul": lambda: torch.matmul(a, b)}, repeats=repeats)["matmul"]


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as cpuinfo:
            return next(line.split(":", 1)[1].strip() for line in cpuinfo if line.startswith("model name"))
    except (OSError, StopIteration):
        return platform.processor() or "unknown"


def machine_info() -> dict[str, Any]:
    """Threads, load average and versions: what a reader needs to judge the timings."""
    import transformers

    load = os.getloadavg()
    return {
        "cpu": _cpu_model(),
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "threads": torch.get_num_threads(),
        "cpus": os.cpu_count(),
        "load_average_1_5_15": [round(x, 2) for x in load],
        "time": time.strftime("%Y-%m-%d %H:%M:%S"),
    }
