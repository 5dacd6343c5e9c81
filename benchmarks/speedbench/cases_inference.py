"""Inference cases: fill-mask latency, batch throughput and cost against input length."""

from __future__ import annotations

import copy
from typing import Any

import torch

from perceiver_hf.cpu_linear import use_onednn_linears

from .agreement import max_abs_diff
from .inputs import fill_mask_input, pad_to, random_ids
from .measure import measure, ratio, target
from .models import ModelPair

THEIRS_PADDED = "transformers, padded to max_seq_len (as its docs call it)"
THEIRS_UNPADDED = "transformers, unpadded (as pipeline('fill-mask') calls it)"
OURS_MASKED = "perceiver-hf, decoding only the masked positions"
OURS_ALL = "perceiver-hf, decoding every input position"
OURS_ONEDNN = "perceiver-hf with the oneDNN opt-in (what `perceiver-hf fill` runs), decoding only the masked positions"


@torch.inference_mode()
def fill_mask_case(pair: ModelPair, repeats: int, target_ratio: float = 0.85) -> dict[str, Any]:
    """Batch 1, one sentence with one masked word; transformers decodes all max_seq_len positions. Ours runs as
    built (plain nn.Linear) and with the oneDNN opt-in that `perceiver-hf fill` applies (the targets)."""
    x = fill_mask_input()
    positions = x.masked_positions[0]  # [K]
    padded, mask = pad_to(x.input_ids, pair.config.max_position_embeddings)
    onednn = copy.deepcopy(pair.ours)
    use_onednn_linears(onednn)
    functions = {
        THEIRS_PADDED: lambda: pair.theirs(input_ids=padded, attention_mask=mask).logits[0, positions],  # [K, V]
        THEIRS_UNPADDED: lambda: pair.theirs(input_ids=x.input_ids).logits[0, positions],
        OURS_MASKED: lambda: pair.ours(x.input_ids, output_positions=x.masked_positions).logits[0],
        OURS_ONEDNN: lambda: onednn(x.input_ids, output_positions=x.masked_positions).logits[0],
    }
    rows, outputs = measure(functions, repeats=repeats)
    del onednn
    ratios = {
        "ours / transformers padded": ratio(rows, OURS_ONEDNN, THEIRS_PADDED),
        "ours / transformers unpadded": ratio(rows, OURS_ONEDNN, THEIRS_UNPADDED),
        "ours as built (plain nn.Linear) / transformers padded": ratio(rows, OURS_MASKED, THEIRS_PADDED),
        "ours as built (plain nn.Linear) / transformers unpadded": ratio(rows, OURS_MASKED, THEIRS_UNPADDED),
    }
    return {
        "case": "fill_mask",
        "description": f"fill-mask, batch 1, {x.input_ids.shape[1]}-byte sentence, {len(positions)} masked bytes "
        "(perceiver-hf: as built with nn.Linear / with the oneDNN opt-in of `perceiver-hf fill`; ratios: opt-in vs "
        "padded / unpadded, then as built vs padded / unpadded)",
        "rows": rows,
        "ratios": ratios,
        "agreement": {
            "max_abs_diff_logits_vs_padded": max_abs_diff(outputs[OURS_MASKED], outputs[THEIRS_PADDED]),
            "max_abs_diff_logits_vs_unpadded": max_abs_diff(outputs[OURS_MASKED], outputs[THEIRS_UNPADDED]),
            "top1_equal": bool((outputs[OURS_MASKED].argmax(-1) == outputs[THEIRS_PADDED].argmax(-1)).all()),
        },
        "targets": [
            target("fill-mask latency, perceiver-hf fill (oneDNN opt-in) / transformers padded",
                   ratios["ours / transformers padded"], target_ratio),
            target("fill-mask latency, perceiver-hf fill (oneDNN opt-in) / transformers unpadded",
                   ratios["ours / transformers unpadded"], target_ratio),
        ],
    }


@torch.inference_mode()
def throughput_case(pair: ModelPair, batch: int, length: int, repeats: int) -> dict[str, Any]:
    """Batch `batch` x `length` bytes, logits at every input position."""
    ids = random_ids(batch, length, pair.config.vocab_size)
    padded, mask = pad_to(ids, pair.config.max_position_embeddings)
    functions = {
        THEIRS_PADDED: lambda: pair.theirs(input_ids=padded, attention_mask=mask).logits[:, :length],
        THEIRS_UNPADDED: lambda: pair.theirs(input_ids=ids).logits[:, :length],
        OURS_ALL: lambda: pair.ours(ids).logits,
    }
    rows, outputs = measure(functions, repeats=repeats)
    for r in rows:
        r["sequences_per_s"] = batch / r["median_s"]
    return {
        "case": "throughput",
        "description": f"throughput, batch {batch} x {length} bytes, logits at every position",
        "rows": rows,
        "ratios": {
            "ours / transformers padded": ratio(rows, OURS_ALL, THEIRS_PADDED),
            "ours / transformers unpadded": ratio(rows, OURS_ALL, THEIRS_UNPADDED),
        },
        "agreement": {
            "max_abs_diff_logits_vs_padded": max_abs_diff(outputs[OURS_ALL], outputs[THEIRS_PADDED]),
            "max_abs_diff_logits_vs_unpadded": max_abs_diff(outputs[OURS_ALL], outputs[THEIRS_UNPADDED]),
        },
        "targets": [],
    }


@torch.inference_mode()
def length_case(pair: ModelPair, lengths: list[int], repeats: int) -> dict[str, Any]:
    """Batch 1 at each input length; transformers' decoder always produces max_seq_len positions."""
    ids = random_ids(1, max(lengths), pair.config.vocab_size)
    points = []
    for length in lengths:
        x = ids[:, :length]
        functions = {
            "transformers": lambda x=x, length=length: pair.theirs(input_ids=x).logits[:, :length],
            "perceiver-hf": lambda x=x: pair.ours(x).logits,
        }
        rows, outputs = measure(functions, repeats=repeats)
        points.append(
            {
                "length": length,
                "rows": rows,
                "ratio": ratio(rows, "perceiver-hf", "transformers"),
                "max_abs_diff_logits": max_abs_diff(outputs["perceiver-hf"], outputs["transformers"]),
            }
        )
    return {
        "case": "length",
        "description": (
            f"cost against input length, batch 1, max_seq_len {pair.config.max_position_embeddings}, logits at "
            "every input position (transformers unpadded; its decoder always produces max_seq_len positions)"
        ),
        "max_seq_len": pair.config.max_position_embeddings,
        "points": points,
        "agreement": {"max_abs_diff_logits": max(p["max_abs_diff_logits"] for p in points)},
        "targets": [],
    }
