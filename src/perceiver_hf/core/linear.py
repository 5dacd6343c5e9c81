"""`Linear`: `nn.Linear` with a faster CPU inference path through oneDNN and a pre-packed weight.

For float32 inference on CPU (autograd off: `torch.no_grad()` / `torch.inference_mode()`), the weight is
reordered once into oneDNN's blocked layout and every call runs oneDNN's matmul on it. torch's default CPU
matmul (MKL) repacks the weight on every call and, on the AMD CPU this was measured on, uses narrower vector
instructions: the packed path is ~12% faster at the Perceiver's shapes ([256 latents, 1280] x [1280, 1280]) and
~2x faster for a handful of rows (decoding a few masked positions); see benchmarks/run_speed.py.

Everything else is plain `nn.Linear`: the same `weight` and `bias` parameters and state-dict keys, and training,
other dtypes, other devices and compilation take the ordinary path. The packed copy is cached per weight version
(an optimizer step or `load_state_dict` invalidates it), costs as much memory as the weight, and is never saved.
"""

from __future__ import annotations

from typing import Any, Optional

import torch
from torch import nn

_ONEDNN_LINEAR = (
    torch.backends.mkldnn.is_available()
    and hasattr(torch.ops.mkldnn, "_reorder_linear_weight")
    and hasattr(torch.ops.mkldnn, "_linear_pointwise")
)


class Linear(nn.Linear):
    """`nn.Linear` whose CPU float32 inference runs on a cached, oneDNN-packed weight (see module docstring)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._packed: Optional[tuple[tuple[int, int], torch.Tensor]] = None  # ((data_ptr, version), packed weight)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self._use_packed(x):
            if self._packed is not None:
                self._packed = None  # training or another device now: drop the packed copy
            return super().forward(x)
        return torch.ops.mkldnn._linear_pointwise(x, self._packed_weight(), self.bias, "none", [], "")

    def _use_packed(self, x: torch.Tensor) -> bool:
        return (
            _ONEDNN_LINEAR
            and not torch.is_grad_enabled()
            and x.device.type == "cpu"
            and x.dtype == self.weight.dtype == torch.float32
            and not torch.compiler.is_compiling()
        )

    def _packed_weight(self) -> torch.Tensor:
        key = (self.weight.data_ptr(), self.weight._version)
        if self._packed is None or self._packed[0] != key:
            self._packed = (key, torch.ops.mkldnn._reorder_linear_weight(self.weight.detach()))
        return self._packed[1]

    def __getstate__(self) -> dict[str, Any]:
        """Copies and pickles leave the packed weight out (oneDNN tensors cannot be copied or saved)."""
        state = self.__dict__.copy()
        state["_packed"] = None
        return state
