"""float32 CPU linears on oneDNN: an explicit opt-in for inference (`perceiver-hf fill` uses it for its own model).

Models are built with plain `nn.Linear`s, which quantizers, PEFT and other tools look for by type. For float32
inference on CPU, `use_onednn_linears(model)` turns every `nn.Linear` of `model` into a `OneDNNLinear` in place
(a class swap: the same module objects, `weight` and `bias` parameters and state-dict keys), whose matmuls run on
oneDNN instead of torch's default BLAS (MKL): on the AMD EPYC (AVX-512) machine of benchmarks/run_speed.py 7-10%
faster at the Perceiver's shapes ([256 latents per sequence, 1280] x [1280, 1280]) and ~25% faster for a handful
of rows (decoding a few masked positions). `use_plain_linears(model)` undoes it. Apply it last: after it, tools
that match `type(module) is nn.Linear` (`torch.ao.quantization.quantize_dynamic`, bitsandbytes, PEFT) no longer
see the linears. A swapped layer still runs `nn.Linear`'s own code for anything but eager float32 CPU tensors:
other dtypes and devices, autocast, tensor subclasses, `torch.compile`/`torch.export` and `torch.jit.trace`.
In training, dL/dx and dL/dW also run on oneDNN (dL/db stays torch's sum).
"""

from __future__ import annotations

from typing import Optional

import torch
from torch import nn
from torch.autograd.function import FunctionCtx, once_differentiable

from .tracing import capturing_graph

_ONEDNN_LINEAR = torch.backends.mkldnn.is_available() and hasattr(torch.ops.mkldnn, "_linear_pointwise")


def _onednn_linear(x: torch.Tensor, weight: torch.Tensor, bias: Optional[torch.Tensor]) -> torch.Tensor:
    """x [..., K] @ weight [N, K]^T + bias [N] by oneDNN -> [..., N]."""
    return torch.ops.mkldnn._linear_pointwise(x, weight, bias, "none", [], "")


class _OneDNNLinearFunction(torch.autograd.Function):
    """Autograd for `_onednn_linear`: dL/dx and dL/dW by oneDNN, dL/db by torch."""

    @staticmethod
    def forward(ctx: FunctionCtx, x: torch.Tensor, weight: torch.Tensor, bias: Optional[torch.Tensor]) -> torch.Tensor:
        ctx.save_for_backward(x, weight)
        ctx.has_bias = bias is not None
        return _onednn_linear(x, weight, bias)

    @staticmethod
    @once_differentiable
    def backward(ctx: FunctionCtx, grad: torch.Tensor) -> tuple[Optional[torch.Tensor], ...]:
        x, weight = ctx.saved_tensors
        grad_x = _onednn_linear(grad, weight.t(), None) if ctx.needs_input_grad[0] else None  # [..., K]
        flat_grad = grad.reshape(-1, grad.shape[-1])  # [M, N]
        grad_weight = None
        if ctx.needs_input_grad[1]:  # dL/dW = grad^T x [N, K]
            flat_x = x.reshape(-1, x.shape[-1])  # [M, K]
            if flat_x.shape[0] == 0:  # oneDNN has no primitive for an empty product
                grad_weight = flat_grad.t().mm(flat_x)
            else:  # as oneDNN's x' W'^T with x' = grad^T, W' = x^T
                grad_weight = _onednn_linear(flat_grad.t().contiguous(), flat_x.t(), None)
        grad_bias = flat_grad.sum(0) if ctx.has_bias and ctx.needs_input_grad[2] else None  # [N]
        return grad_x, grad_weight, grad_bias


class OneDNNLinear(nn.Linear):
    """`nn.Linear` computing with oneDNN for eager float32 CPU tensors (see module docstring)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self._use_onednn(x):
            return super().forward(x)
        if torch.is_grad_enabled():
            return _OneDNNLinearFunction.apply(x, self.weight, self.bias)
        return _onednn_linear(x, self.weight, self.bias)

    def _use_onednn(self, x: torch.Tensor) -> bool:
        return (
            _ONEDNN_LINEAR
            and type(x) is torch.Tensor
            and type(self.weight) in (torch.Tensor, nn.Parameter)
            and x.device.type == self.weight.device.type == "cpu"
            and x.dtype == self.weight.dtype == torch.float32
            and not torch.is_autocast_enabled("cpu")
            and not capturing_graph()
        )


def _swap_linears(model: nn.Module, old: type, new: type) -> int:
    count = 0
    for module in model.modules():
        if type(module) is old:
            module.__class__ = new
            count += 1
    return count


def use_onednn_linears(model: nn.Module) -> int:
    """Make every plain `nn.Linear` in `model` a `OneDNNLinear` (in place); returns how many were swapped.
    Does nothing where this torch build has no oneDNN linear."""
    return _swap_linears(model, nn.Linear, OneDNNLinear) if _ONEDNN_LINEAR else 0


def use_plain_linears(model: nn.Module) -> int:
    """Undo `use_onednn_linears`: every `OneDNNLinear` in `model` becomes a plain `nn.Linear` again."""
    return _swap_linears(model, OneDNNLinear, nn.Linear)
