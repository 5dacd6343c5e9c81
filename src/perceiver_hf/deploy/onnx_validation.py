"""Run an exported graph in onnxruntime and compare its logits with the torch model's."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from .graph import OUTPUT_NAMES, MaskedLMLogits, sample_inputs
from .onnx_folder import OnnxExportError

# (batch, length) of the validation inputs: none is the traced shape (2, 16); lengths are capped at max_seq_len
VALIDATION_SHAPES = ((1, 5), (3, 37), (4, 2048))


def onnx_session(path: Path) -> Any:
    """An onnxruntime CPU session on `path`; a one-line `OnnxExportError` when onnxruntime cannot run it."""
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
    session = onnx_session(path)
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


__all__ = ["VALIDATION_SHAPES", "compare_with_torch", "onnx_session"]
