"""What an ONNX folder holds: its file names, what the export measured, and its model card section."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

MODEL_FILE = "model.onnx"
INT8_MODEL_FILE = "model_int8.onnx"
RUNTIME_FILE = "onnx_fill.py"


class OnnxExportError(ValueError):
    """An ONNX export that cannot be done or did not validate; the message says what to do."""


@dataclass
class OnnxExportReport:
    """What `export_onnx` wrote and measured."""

    output_dir: Path
    opset: int
    max_abs_diff: float  # float32 graph vs torch, over the validation inputs
    int8_max_abs_diff: Optional[float] = None  # int8 graph vs torch (quantization error, not checked)
    int8_top1_agreement: Optional[float] = None  # share of decoded positions whose best token is torch's
    files: list[str] = field(default_factory=list)


def render_card(model_card: Optional[str], report: OnnxExportReport, config: Any) -> str:
    """`model_card` (the source's README.md, or a title) with a section on running the exported graph."""
    int8 = (
        f"\n`{INT8_MODEL_FILE}` is the int8 version (dynamic quantization of the MatMul weights; max |int8 - torch "
        f"float32| logit difference {report.int8_max_abs_diff:.3g}, best token agreeing at "
        f"{100 * report.int8_top1_agreement:.1f}% of the checked positions): pass `--model-file {INT8_MODEL_FILE}`.\n"
        if report.int8_max_abs_diff is not None else ""
    )
    section = f"""
## Running with ONNX Runtime

`{MODEL_FILE}` (opset {report.opset}) was exported by `perceiver-hf export onnx` and checked against the torch
model: max |onnxruntime - torch| logit difference {report.max_abs_diff:.3g} on inputs of shapes it was not
traced with. Inputs: `input_ids`, `attention_mask` [batch, sequence] and `output_positions` [batch, K] (int64;
the positions to decode, -1 for an unused slot; sequence and K at most {config.max_seq_len}). Output: `logits`
[batch, K, {config.vocab_size}].

Fill masks without torch (`pip install onnxruntime tokenizers numpy`):

    python {RUNTIME_FILE} . "Some words are m[MASK]ssing." --top-k 3

or in Python: `from onnx_fill import OnnxFillMask; OnnxFillMask(".")(["..."], top_k=3)`.
{int8}"""
    return (model_card.rstrip() + "\n" if model_card else f"# {config.model_type} (ONNX)\n") + section


__all__ = ["INT8_MODEL_FILE", "MODEL_FILE", "OnnxExportError", "OnnxExportReport", "RUNTIME_FILE", "render_card"]
