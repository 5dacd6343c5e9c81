"""Opt-in int8 dynamic quantization for CPU inference.

`quantize_dynamic_int8(model)` replaces every `nn.Linear` (attention projections and MLPs, which hold nearly
all of a Perceiver's FLOPs) but the output embeddings (the masked-LM `lm_head`, tied to the input embedding) by
an `Int8DynamicLinear`:

- weights are quantized once, symmetrically, per output channel: `w ~ w_int8 * w_scale[out]`;
- activations are quantized at every call, symmetrically, per row (per token / latent): `x ~ x_int8 * x_scale[row]`;
- `x_int8 @ w_int8^T` runs as an int8 x int8 -> int32 matrix multiply (`torch._int_mm`), then is rescaled in
  float32 and the float32 bias is added.

Everything else (attention softmax, LayerNorm, GELU, the tied output logits) stays float32. Per-row activation
scales follow outliers row by row, so the error is about half that of torch's per-tensor `quantize_dynamic`
at the same speed. The quantized model is for inference only: it has no gradients for the int8 weights, and
its state dict is not a perceiver-hf checkpoint (quantize after loading, do not save it).
"""

from __future__ import annotations

import copy
from typing import Optional

import torch
from torch import nn

_INT8_MAX = 127.0
_MIN_SCALE = 1e-12  # an all-zero row or weight channel gets this scale instead of 0 (no division by zero)


class Int8DynamicLinear(nn.Module):
    """`nn.Linear` with int8 per-channel weights and int8 per-row dynamic activations (CPU inference).

    Args:
        linear: the float32 `nn.Linear` to quantize (its bias is kept in float32).
    """

    def __init__(self, linear: nn.Linear) -> None:
        super().__init__()
        weight = linear.weight.detach().float()  # [N, K]
        scale = weight.abs().amax(dim=1).clamp(min=_MIN_SCALE) / _INT8_MAX  # [N]
        self.in_features = linear.in_features
        self.out_features = linear.out_features
        self.register_buffer("weight_int8", torch.round(weight / scale[:, None]).to(torch.int8))  # [N, K]
        self.register_buffer("weight_scale", scale)  # [N]
        bias = linear.bias.detach().float() if linear.bias is not None else torch.zeros(self.out_features)
        self.register_buffer("bias", bias)  # [N]

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # [..., K] -> [..., N]
        # As few passes over [M, K] / [M, N] as possible: each is a parallel region, costly on a busy machine.
        flat = x.reshape(-1, self.in_features).float()  # [M, K]
        row_max = torch.maximum(flat.amax(dim=1, keepdim=True), flat.amin(dim=1, keepdim=True).neg_())  # [M, 1]
        row_scale = row_max.clamp_(min=_MIN_SCALE).div_(_INT8_MAX)  # [M, 1]
        x_int8 = (flat / row_scale).round_().to(torch.int8)  # [M, K]
        out = torch._int_mm(x_int8, self.weight_int8.t()) * row_scale  # [M, N] float32, from exact int32 sums
        out = torch.addcmul(self.bias, out, self.weight_scale)  # [M, N]: bias + out * weight scale
        return out.reshape(*x.shape[:-1], self.out_features).to(x.dtype)

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}, int8 weights and activations"


def _replace_linears(module: nn.Module, keep: Optional[nn.Module]) -> int:
    """Swap every `nn.Linear` below `module` but `keep` for an `Int8DynamicLinear`; returns how many were swapped."""
    count = 0
    for name, child in module.named_children():
        if isinstance(child, nn.Linear) and child is not keep:
            setattr(module, name, Int8DynamicLinear(child))
            count += 1
        else:
            count += _replace_linears(child, keep)
    return count


def quantize_dynamic_int8(model: nn.Module, *, inplace: bool = False) -> nn.Module:
    """Return `model` for int8 CPU inference: every `nn.Linear` but the output embeddings becomes an
    `Int8DynamicLinear` (see the module docstring).

    Args:
        model: a float32 model on CPU, e.g. `PerceiverForMaskedLM.from_pretrained(...)`.
        inplace: modify `model` itself instead of a deep copy (saves the copy's memory).

    Returns:
        The quantized model, in eval mode.

    Raises:
        ValueError: the model is not on CPU, not float32, or has no `nn.Linear` layer to quantize.
    """
    if not hasattr(torch, "_int_mm"):
        raise ValueError(f"int8 quantization needs torch._int_mm (torch >= 2.4); this is torch {torch.__version__}.")
    linears = [m for m in model.modules() if isinstance(m, nn.Linear)]
    if not linears:
        raise ValueError(f"{type(model).__name__} has no nn.Linear layer, so there is nothing to quantize.")
    devices = {m.weight.device.type for m in linears}
    if devices != {"cpu"}:
        raise ValueError(
            f"int8 dynamic quantization runs on CPU only, but the model's linear layers are on {sorted(devices)}; "
            "move it first with model.to('cpu')."
        )
    dtypes = {m.weight.dtype for m in linears}
    if dtypes != {torch.float32}:
        raise ValueError(
            f"int8 dynamic quantization starts from float32 weights, but the model has {sorted(map(str, dtypes))}; "
            "load it with dtype=torch.float32 or call model.float() first."
        )
    if not inplace:
        model = copy.deepcopy(model)
    get_output_embeddings = getattr(model, "get_output_embeddings", None)
    _replace_linears(model, keep=get_output_embeddings() if callable(get_output_embeddings) else None)
    return model.eval()


__all__ = ["Int8DynamicLinear", "quantize_dynamic_int8"]
