"""Deployment paths out of eager PyTorch: `torch.export` programs and validated ONNX folders.

- `graph`: the logits-only module, dynamic shapes, `export_masked_lm` (torch.export).
- `onnx_export`: `export_onnx` (what `perceiver-hf export onnx` runs).
- `onnx_fill`: fill-mask with onnxruntime alone (imports neither torch nor this package's other modules).

See docs/deployment.md.
"""

from .graph import MaskedLMLogits, dynamic_shapes, export_masked_lm, sample_inputs

__all__ = ["MaskedLMLogits", "dynamic_shapes", "export_masked_lm", "sample_inputs"]
