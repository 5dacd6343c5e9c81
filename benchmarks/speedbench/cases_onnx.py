"""ONNX Runtime case: the `perceiver-hf export onnx` graph (fp32 and int8) against our torch model (fp32 and
int8 dynamic), fill-mask at batch 1 decoding only the masked positions, all four interleaved in one run.

Run for the full-size byte model (random weights: speed does not depend on them) and the shipped trained
perceiver-bytes-small. onnxruntime gets as many intra-op threads as torch has.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import torch

from perceiver_hf import PerceiverForMaskedLM, quantize_dynamic_int8
from perceiver_hf.deploy.onnx_export import INT8_MODEL_FILE, MODEL_FILE, export_onnx
from perceiver_hf.pretrained import pretrained_model_path

from .inputs import fill_mask_input
from .measure import measure, ratio, target

TORCH_FP32 = "perceiver-hf torch fp32"
TORCH_INT8 = "perceiver-hf torch int8 dynamic"
ORT_FP32 = "perceiver-hf onnxruntime fp32"
ORT_INT8 = "perceiver-hf onnxruntime int8 dynamic"
SMALL_MODEL_REPEAT_FACTOR = 10


def _session(path: Path) -> Any:
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = torch.get_num_threads()
    return onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


@torch.inference_mode()
def _model_rows(model: PerceiverForMaskedLM, label: str, repeats: int) -> dict[str, Any]:
    """The four implementations on one model: rows, ratios and agreement."""
    x = fill_mask_input()
    feeds = {"input_ids": x.input_ids.numpy(), "attention_mask": torch.ones_like(x.input_ids).numpy(),
             "output_positions": x.masked_positions.numpy()}
    int8 = quantize_dynamic_int8(model)
    with tempfile.TemporaryDirectory() as folder:
        report = export_onnx(model, Path(folder) / "onnx", None, quantize="int8")
        sessions = {name: _session(Path(folder) / "onnx" / file)
                    for name, file in ((ORT_FP32, MODEL_FILE), (ORT_INT8, INT8_MODEL_FILE))}
    functions = {
        TORCH_FP32: lambda: model(x.input_ids, output_positions=x.masked_positions).logits[0],
        TORCH_INT8: lambda: int8(x.input_ids, output_positions=x.masked_positions).logits[0],
        ORT_FP32: lambda: torch.from_numpy(sessions[ORT_FP32].run(["logits"], feeds)[0][0]),
        ORT_INT8: lambda: torch.from_numpy(sessions[ORT_INT8].run(["logits"], feeds)[0][0]),
    }
    rows, outputs = measure(functions, repeats=repeats)
    flops = {r["impl"]: r["gflop"] for r in rows}
    for r in rows:  # onnxruntime runs outside torch's FLOP counter: the same graph does the same work
        if r["impl"].startswith("perceiver-hf onnxruntime"):
            r["gflop"] = flops[TORCH_INT8 if "int8" in r["impl"] else TORCH_FP32]
            r["gflop_per_s"] = r["gflop"] / r["median_s"]
    return {
        "model": label,
        "rows": rows,
        "ratios": {
            "onnxruntime fp32 / torch fp32": ratio(rows, ORT_FP32, TORCH_FP32),
            "onnxruntime int8 / torch fp32": ratio(rows, ORT_INT8, TORCH_FP32),
            "torch int8 / torch fp32": ratio(rows, TORCH_INT8, TORCH_FP32),
            "onnxruntime int8 / torch int8": ratio(rows, ORT_INT8, TORCH_INT8),
        },
        "agreement": {
            "max_abs_diff_logits_onnxruntime_fp32_vs_torch": float((outputs[ORT_FP32] - outputs[TORCH_FP32]).abs().max()),
            "export_check_max_abs_diff": report.max_abs_diff,
            "int8_onnxruntime_vs_torch_fp32_abs_diff": float((outputs[ORT_INT8] - outputs[TORCH_FP32]).abs().max()),
            "int8_top1_equal_onnxruntime_torch_fp32": bool(
                (outputs[ORT_INT8].argmax(-1) == outputs[TORCH_FP32].argmax(-1)).all()),
        },
    }


def onnx_case(ours: PerceiverForMaskedLM, repeats: int, size_label: str) -> dict[str, Any]:
    """`_model_rows` for `ours` (the suite's byte model) and the shipped model; the target on `ours`."""
    points = [_model_rows(ours.eval(), size_label, repeats)]
    shipped = PerceiverForMaskedLM.from_pretrained(pretrained_model_path(), dtype=torch.float32).eval()
    # a call takes milliseconds there, so more of them for a steady median
    points.append(_model_rows(shipped, "shipped perceiver-bytes-small", SMALL_MODEL_REPEAT_FACTOR * repeats))
    speed = points[0]["ratios"]["onnxruntime fp32 / torch fp32"]
    return {
        "case": "onnx",
        "description": "onnxruntime vs torch, fill-mask, batch 1, decoding only the masked positions",
        "points": points,
        "rows": [dict(r, impl=f"{r['impl']} ({p['model']})") for p in points for r in p["rows"]],
        "agreement": {f"{k} ({p['model']})": v for p in points for k, v in p["agreement"].items()},
        "targets": [target(f"onnxruntime fp32 / torch fp32 (fill-mask, {size_label})", speed, 1.0)],
    }
