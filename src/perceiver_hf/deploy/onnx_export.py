"""Write an ONNX folder for a `PerceiverForMaskedLM`: model.onnx validated against torch, config, tokenizer, card.

The graph (`torch.onnx.export(..., dynamo=True)` of `graph.MaskedLMLogits`) takes input_ids [B, L],
attention_mask [B, L] and output_positions [B, K] (all int64; batch, length and positions dynamic, length and
positions at most max_seq_len) and returns logits [B, K, V]. Before anything is written, onnxruntime runs it on
sample inputs of shapes other than the traced one and its logits are compared with the torch model's: a
difference above `TOLERANCE` refuses the export. `quantize="int8"` adds model_int8.onnx (onnxruntime's dynamic
int8 quantization of the validated graph's MatMul weights). The folder also holds `onnx_fill.py`, which fills
masks with onnxruntime alone.
"""

from __future__ import annotations

import importlib.util
import io
import logging
import shutil
import warnings
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path
from typing import Any, Iterable, Optional, Union

import torch

from ..modeling_perceiver import PerceiverForMaskedLM, PerceiverPreTrainedModel
from ..output_folder import OutputPlan, plan_output_folder, write_output_folder
from .graph import INPUT_NAMES, OUTPUT_NAMES, MaskedLMLogits, dynamic_shapes, sample_inputs
from .onnx_folder import (
    INT8_MODEL_FILE, MODEL_FILE, RUNTIME_FILE, OnnxExportError, OnnxExportReport, render_card,
)
from .onnx_validation import compare_with_torch

TOLERANCE = 1e-4
"""Largest |onnxruntime - torch| logit difference accepted for the float32 graph."""
MIN_OPSET = 18  # torch's ONNX exporter writes opset 18 and converts from there
EXTERNAL_DATA_BYTES = 1 << 30
"""Models with more parameter bytes than this keep their weights in model.onnx.data (protobuf's 2 GB limit)."""
QUANTIZE_CHOICES = ("int8",)


def require_onnx_runtime() -> None:
    """Raise a one-line `OnnxExportError` naming the extra to install when onnx or onnxruntime is missing."""
    missing = [name for name in ("onnx", "onnxruntime", "onnxscript") if importlib.util.find_spec(name) is None]
    if missing:
        raise OnnxExportError(
            f"ONNX export needs {', '.join(missing)}, which is not installed; "
            "pip install 'perceiver-hf[onnx]' (or pip install onnx onnxruntime onnxscript)."
        )


def _check_model(model: Any) -> None:
    if isinstance(model, PerceiverPreTrainedModel) and not isinstance(model, PerceiverForMaskedLM):
        raise OnnxExportError(
            f"export onnx exports the masked-LM logits, and {type(model).__name__} has no LM head; export a "
            "PerceiverForMaskedLM checkpoint."
        )
    if not isinstance(model, PerceiverForMaskedLM):
        model_type = getattr(getattr(model, "config", None), "model_type", None)
        shown = type(model).__name__ + (f" (model_type {model_type!r})" if model_type else "")
        raise OnnxExportError(
            f"export onnx exports perceiver-hf's PerceiverForMaskedLM (model_type 'perceiver_io'), got {shown}; "
            "convert the checkpoint first (`perceiver-hf convert ...`), or use optimum/torch.onnx for other models."
        )


def _check_opset(opset: Optional[int]) -> None:
    import onnx

    newest = onnx.defs.onnx_opset_version()
    if opset is not None and not MIN_OPSET <= opset <= newest:
        raise OnnxExportError(
            f"opset {opset} cannot express this graph (torch's exporter writes opset {MIN_OPSET} and onnx "
            f"{onnx.__version__} knows up to {newest}); pass --opset between {MIN_OPSET} and {newest}."
        )


def _export_graph(model: Any, path: Path, opset: Optional[int], external_data: bool) -> int:
    """torch.onnx.export (dynamo) of `model`'s logits to `path`; returns the opset written."""
    config = model.config
    inputs = sample_inputs(config, 2, 16, with_positions=True)
    logging.getLogger("torch.onnx").setLevel(logging.ERROR)
    with torch.no_grad(), warnings.catch_warnings(), redirect_stdout(io.StringIO()):
        warnings.simplefilter("ignore")
        program = torch.onnx.export(
            MaskedLMLogits(model), tuple(inputs[name] for name in INPUT_NAMES), dynamo=True,
            dynamic_shapes=dynamic_shapes(config.max_seq_len, with_positions=True),
            input_names=list(INPUT_NAMES), output_names=list(OUTPUT_NAMES), opset_version=opset, verbose=False,
        )
        program.save(str(path), external_data=external_data)
    written = next(o.version for o in program.model_proto.opset_import if o.domain in ("", "ai.onnx"))
    if opset is not None and written != opset:
        raise OnnxExportError(
            f"opset {opset} cannot express this graph (onnx's version converter could not convert it from "
            f"opset {written}); pass --opset {written} or higher."
        )
    return written


def _quantize_int8(source: Path, target: Path) -> None:
    from onnxruntime.quantization import QuantType, quantize_dynamic

    with redirect_stdout(io.StringIO()), redirect_stderr(io.StringIO()), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        quantize_dynamic(str(source), str(target), weight_type=QuantType.QInt8, op_types_to_quantize=["MatMul", "Gemm"])


def export_onnx(
    model: Any,
    output_dir: Union[str, Path, OutputPlan],
    tokenizer: Any,
    *,
    opset: Optional[int] = None,
    quantize: Optional[str] = None,
    model_card: Optional[str] = None,
    force: bool = False,
    inputs: Iterable[Any] = (),
    external_data: Optional[bool] = None,
) -> OnnxExportReport:
    """Export `model` (a `PerceiverForMaskedLM`) to `output_dir` with `tokenizer`; see the module docstring.

    Args:
        opset: ONNX opset to write (default: the exporter's, 18).
        quantize: "int8" also writes model_int8.onnx.
        model_card: the source's README.md; the ONNX section is appended.
        force, inputs: as in `perceiver_hf.output_folder.plan_output_folder` (unused for a plan).
        external_data: weights in model.onnx.data (default: above `EXTERNAL_DATA_BYTES` of parameters).

    Raises:
        OnnxExportError: not our model, missing onnx/onnxruntime, an opset that cannot express the graph, or a
            graph that does not match torch (nothing is written then).
        perceiver_hf.output_folder.OutputFolderError: the output folder may not be written.
    """
    _check_model(model)
    require_onnx_runtime()
    _check_opset(opset)
    if quantize not in (None, *QUANTIZE_CHOICES):
        raise OnnxExportError(f"--quantize {quantize!r} is not offered; use one of {QUANTIZE_CHOICES}.")
    plan = plan_output_folder(output_dir, force=force, inputs=inputs)
    model = model.eval()
    if external_data is None:
        external_data = sum(p.numel() * p.element_size() for p in model.parameters()) > EXTERNAL_DATA_BYTES
    report = OnnxExportReport(output_dir=plan.path, opset=0, max_abs_diff=float("nan"))

    def write(folder: Path) -> None:
        report.opset = _export_graph(model, folder / MODEL_FILE, opset, external_data)
        report.max_abs_diff, _ = compare_with_torch(model, folder / MODEL_FILE)
        if not report.max_abs_diff <= TOLERANCE:
            raise OnnxExportError(
                f"onnxruntime's logits differ from torch's by {report.max_abs_diff:.3g} (> {TOLERANCE:g}); "
                "nothing was written. Try another --opset or report the model and versions."
            )
        if quantize == "int8":
            _quantize_int8(folder / MODEL_FILE, folder / INT8_MODEL_FILE)
            report.int8_max_abs_diff, report.int8_top1_agreement = compare_with_torch(model, folder / INT8_MODEL_FILE)
        model.config.save_pretrained(folder)
        if tokenizer is not None:
            tokenizer.save_pretrained(folder)
        shutil.copyfile(Path(__file__).with_name(RUNTIME_FILE), folder / RUNTIME_FILE)
        (folder / "README.md").write_text(render_card(model_card, report, model.config), encoding="utf-8")

    write_output_folder(plan, write)
    report.files = sorted(p.name for p in plan.target.iterdir() if not p.name.startswith("."))
    return report


__all__ = ["INT8_MODEL_FILE", "MODEL_FILE", "OnnxExportError", "OnnxExportReport", "TOLERANCE", "export_onnx",
           "require_onnx_runtime"]
