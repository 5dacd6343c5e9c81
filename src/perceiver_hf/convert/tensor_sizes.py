"""Tensors read from a torch file must hold the numbers they claim: a view cannot promise more than its bytes.

A pickled tensor is a storage (bytes in the file) plus a shape and strides chosen by the file. Stride 0 lets two
bytes-sized storages pose as 10**6 x 10**6 matrices, and any comparison or copy of them then runs over 10**12
elements. `check_tensor_sizes` refuses every tensor whose element count exceeds what its storage holds, before
anything reads the tensors, so later work is bounded by the file's size.
"""

from __future__ import annotations

from pathlib import Path
from typing import Mapping

import torch

from .errors import ConversionError


def check_tensor_sizes(tensors: Mapping[str, torch.Tensor], path: Path) -> None:
    """Raise a one-line `ConversionError` naming the first tensor of `tensors` (read from `path`) whose shape
    claims more numbers than the bytes of its storage hold (an overlapping, e.g. stride-0, view)."""
    for name, tensor in tensors.items():
        claimed = tensor.numel() * tensor.element_size()
        held = tensor.untyped_storage().nbytes()
        if claimed > held:
            raise ConversionError(
                f"{path}: {name} claims shape {list(tensor.shape)} ({claimed:,} bytes) but its data in the file is "
                f"{held:,} bytes (an overlapping view); a checkpoint's weights are stored whole. The file is corrupt "
                "or hostile."
            )


__all__ = ["check_tensor_sizes"]
