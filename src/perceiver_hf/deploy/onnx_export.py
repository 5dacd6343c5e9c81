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
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Optional, Union

import torch

from ..output_folder import OutputPlan, plan_output_folder, write_output_folder
from .graph import INPUT_NAMES, OUTPUT_NAMES, MaskedLMLogits, dynamic_shapes, plain_linears, sample_inputs

MODEL_FILE = "model.onnx"
INT8_MODEL_FILE = "model_int8.onnx"
RUNTIME_FILE = "onnx_fill.py"
TOLERANCE = 1e-4
"""Largest |onnxruntime - torch| logit difference accepted for the float32 graph."""
MIN_OPSET = 18  # torch's ONNX exporter writes opset 18 and converts from there
EXTERNAL_DATA_BYTES = 1 << 30
"""Models with more parameter bytes than this keep their weights in model.onnx.data (protobuf's 2 GB limit)."""
# (batch, length) of the validation inputs: none is the traced shape (2, 16)
VALIDATION_SHAPES = ((1, 5), (3, 37), (4, 2048))
QUANTIZE_CHOICES = ("int8",)


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


def require_onnx_runtime() -> None:
    """Raise a one-line `OnnxExportError` naming the extra to install when onnx or onnxruntime is missing."""
    missing = [name for name in ("onnx", "onnxruntime", "onnxscript") if importlib.util.find_spec(name) is None]
    if missing:
        raise OnnxExportError(
            f"ONNX export needs {', '.join(missing)}, which is not installed; "
            "pip install 'perceiver-hf[onnx]' (or pip install onnx onnxruntime onnxscript)."
        )


def _check_model(model: Any) -> None:
    from ..modeling_perceiver import PerceiverForMaskedLM, PerceiverPreTrainedModel

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
    with plain_linears(model), torch.no_grad(), warnings.catch_warnings(), redirect_stdout(io.StringIO()):
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


def _session(path: Path) -> Any:
    import onnxruntime

    try:
        return onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    except Exception as error:  # onnxruntime raises its own classes (e.g. an opset it does not implement)
        first_line = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise OnnxExportError(
            f"onnxruntime {onnxruntime.__version__} cannot run {path.name}: {first_line}. Pass an older --opset "
            "or upgrade onnxruntime."
        ) from None


def _validation_inputs(config: Any) -> list[dict[str, torch.Tensor]]:
    """Inputs of several batch sizes and lengths (with padding, with and without -1 position slots)."""
    cases = []
    for seed, (batch_size, seq_len) in enumerate(VALIDATION_SHAPES):
        inputs = sample_inputs(config, batch_size, seq_len, with_positions=True, seed=seed + 1)
        if seed == len(VALIDATION_SHAPES) - 1:  # every position decoded (what generic callers do)
            length = inputs["input_ids"].shape[1]
            inputs["output_positions"] = torch.arange(length).expand(batch_size, length).contiguous()
        cases.append(inputs)
    return cases


def compare_with_torch(model: Any, path: Path) -> tuple[float, float]:
    """(max |onnxruntime - torch| logit difference, share of positions with torch's best token) of `path`."""
    session = _session(path)
    worst, agreeing, total = 0.0, 0, 0
    for inputs in _validation_inputs(model.config):
        with torch.no_grad():
            expected = MaskedLMLogits(model)(**inputs)  # [B, K, V]
        got = torch.from_numpy(session.run(list(OUTPUT_NAMES), {k: v.numpy() for k, v in inputs.items()})[0])
        used = inputs["output_positions"] >= 0  # [B, K]
        worst = max(worst, float((got - expected).abs()[used].max()))
        agreeing += int((got.argmax(-1) == expected.argmax(-1))[used].sum())
        total += int(used.sum())
    return worst, agreeing / max(total, 1)


def _quantize_int8(source: Path, target: Path) -> None:
    from onnxruntime.quantization import QuantType, quantize_dynamic

    with redirect_stdout(io.StringIO()), redirect_stderr(io.StringIO()), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        quantize_dynamic(str(source), str(target), weight_type=QuantType.QInt8, op_types_to_quantize=["MatMul", "Gemm"])


def _card(model_card: Optional[str], report: OnnxExportReport, config: Any) -> str:
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
        (folder / "README.md").write_text(_card(model_card, report, model.config), encoding="utf-8")

    write_output_folder(plan, write)
    report.files = sorted(p.name for p in plan.target.iterdir() if not p.name.startswith("."))
    return report


__all__ = ["OnnxExportError", "OnnxExportReport", "TOLERANCE", "compare_with_torch", "export_onnx",
           "require_onnx_runtime"]
