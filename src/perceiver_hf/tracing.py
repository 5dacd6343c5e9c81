"""Whether the current forward runs eagerly or is being captured into a graph.

`torch.compile`, `torch.export` (strict and non-strict), the ONNX exporters and `torch.jit.trace` all run the
forward on placeholder tensors whose values are unknown. Checks that read tensor values (`int(x.min())`) cannot
run there: they break graphs, and export refuses them ("Could not guard on data-dependent expression"). The
model forward therefore runs its value checks only when `capturing_graph()` is False.
"""

from __future__ import annotations

import torch


def capturing_graph() -> bool:
    """True inside torch.compile/dynamo, torch.export (strict or not) and torch.jit tracing."""
    return torch.compiler.is_compiling() or torch.compiler.is_exporting() or torch.jit.is_tracing()


__all__ = ["capturing_graph"]
