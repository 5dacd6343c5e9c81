"""Results as JSON, a markdown table for the README, and a PNG plot of latency against input length."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


def write_json(results: dict[str, Any], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(results, indent=1) + "\n", encoding="utf-8")


def _fmt_gflop(gflop: float) -> str:
    return f"{gflop:.0f}" if gflop >= 10 else f"{gflop:.2g}"


def _fmt_time(seconds: float) -> str:
    return f"{seconds * 1e3:.1f} ms" if seconds < 1 else f"{seconds:.2f} s"


def _rows_table(case: dict[str, Any]) -> list[str]:
    lines = [f"**{case['description']}**", "", "| implementation | median | best | GFLOP/call | GFLOP/s |", "|---|---|---|---|---|"]
    for r in case["rows"]:
        lines.append(
            f"| {r['impl']} | {_fmt_time(r['median_s'])} | {_fmt_time(r['best_s'])} | "
            f"{_fmt_gflop(r['gflop'])} | {r['gflop_per_s']:.1f} |"
        )
    notes = [f"{k}: **{v:.2f}x**" for k, v in case.get("ratios", {}).items()]
    notes += [f"{k}: {v:.2g}" if isinstance(v, float) else f"{k}: {v}" for k, v in case["agreement"].items()]
    if "optimizer_step_s" in case:
        notes.append(f"an AdamW step (not included, same for both) takes {_fmt_time(case['optimizer_step_s'])}")
    return lines + ["", "; ".join(notes), ""]


def _length_table(case: dict[str, Any]) -> list[str]:
    names = [r["impl"] for r in case["points"][0]["rows"]]
    header = "| input length | " + " | ".join(f"{n} (GFLOP)" for n in names) + " | ratio | max abs diff |"
    lines = [f"**{case['description']}**", "", header, "|---" * (len(names) + 3) + "|"]
    for p in case["points"]:
        cells = [f"{_fmt_time(r['median_s'])} ({r['gflop']:.0f})" for r in p["rows"]]
        lines.append(f"| {p['length']} | " + " | ".join(cells) + f" | {p['ratio']:.2f}x | {p['max_abs_diff_logits']:.1g} |")
    return lines + [""]


def _roofline_table(case: dict[str, Any]) -> list[str]:
    lines = [f"**{case['description']}**", "", "| batch | implementation | median | GFLOP/call | GFLOP/s | of peak |",
             "|---|---|---|---|---|---|"]
    for p in case["points"]:
        for r in p["rows"]:
            share = f"{r['fraction_of_peak']:.0%}" if "fraction_of_peak" in r else "(peak)"
            lines.append(
                f"| {p['batch']} | {r['impl']} | {_fmt_time(r['median_s'])} | {r['gflop']:.1f} | "
                f"{r['gflop_per_s']:.1f} | {share} |"
            )
    return lines + [""]


def _targets_table(results: dict[str, Any]) -> list[str]:
    lines = ["| target | measured | limit | met |", "|---|---|---|---|"]
    for case in results["cases"]:
        for t in case.get("targets", []):
            sign = "<=" if t["at_most"] else ">="
            lines.append(f"| {t['what']} | {t['value']:.2f} | {sign} {t['limit']} | {'yes' if t['met'] else 'no'} |")
    return lines + [""]


def _cell(rows: list[dict[str, Any]], prefix: str) -> str:
    """The rows whose implementation starts with `prefix`: "time (GFLOP)", joined with " / "."""
    cells = [f"{_fmt_time(r['median_s'])} ({_fmt_gflop(r['gflop'])} GFLOP)" for r in rows if r["impl"].startswith(prefix)]
    return " / ".join(cells) or "-"


def _first_diff(case: dict[str, Any]) -> str:
    name, value = next((k, v) for k, v in case["agreement"].items() if "diff" in k)
    return f"{value:.1g}" + (" (loss)" if name == "abs_diff_loss" else "")


def _shares(r: dict[str, Any]) -> str:
    onednn = f"; {r['fraction_of_onednn']:.0%}" if "fraction_of_onednn" in r else ""
    return f"{r['gflop_per_s']:.0f} ({r['fraction_of_peak']:.0%}{onednn})"


def _bf16_cost(point: dict[str, Any]) -> str:
    """What bf16 costs in precision, for the summary's last column (bf16 weights / autocast)."""
    a = point["agreement"]
    if point["what"] == "fill-mask":
        shipped = ""
        if "top1_agreement_bf16_weights_shipped_model" in a:
            shipped = (" (the shipped trained perceiver-bytes-small: "
                       f"{a['top1_agreement_bf16_weights_shipped_model']:.0%} / "
                       f"{a['top1_agreement_bf16_autocast_shipped_model']:.0%})")
        return (
            f"max abs logit diff {a['max_abs_diff_logits_bf16_weights_vs_fp32']:.2g} / "
            f"{a['max_abs_diff_logits_bf16_autocast_vs_fp32']:.2g} (largest logit {a['max_abs_logit_fp32']:.2g}); "
            f"top-1 agreement with fp32 at {a['masked_positions']} masked bytes: {a['top1_agreement_bf16_weights']:.0%} / "
            f"{a['top1_agreement_bf16_autocast']:.0%}{shipped}"
        )
    return (
        f"loss diff {a['abs_diff_loss_bf16_weights']:.2g} / {a['abs_diff_loss_bf16_autocast']:.2g} (loss "
        f"{a['loss_fp32']:.3g}); gradient cosine with fp32 {a['gradient_cosine_bf16_weights_vs_fp32']:.4f} / "
        f"{a['gradient_cosine_bf16_autocast_vs_fp32']:.4f}; bf16 weights round away "
        f"{a['adamw_updates_lost_bf16_weights']:.0%} of the updates of an AdamW step (lr {a['adamw_lr']:g}; fp32 "
        f"{a['adamw_updates_lost_fp32']:.0%})"
    )


def _bf16_row(point: dict[str, Any]) -> str:
    speedups = " / ".join(f"{v:.2f}x" for v in point["ratios"].values())
    return (
        f"| bf16, {point['description']} (fp32 / bf16 weights / bf16 autocast) | - | "
        f"{_cell(point['rows'], 'perceiver-hf')} | speedup over fp32: {speedups} | {_bf16_cost(point)} |"
    )


def _summary_rows(case: dict[str, Any]) -> list[str]:
    kind = case["case"]
    if kind == "bf16":
        return [_bf16_row(p) for p in case["points"]]
    if kind == "roofline":
        return [
            f"| latent stack, batch {p['batch']}: GFLOP/s (share of the {p['peak_gflop_per_s']:.0f} GFLOP/s torch.matmul "
            f"peak{'; of oneDNN matmul' if 'fraction_of_onednn' in p['ours'] else ''}) | {_shares(p['theirs'])} | "
            f"{_shares(p['ours'])} | {p['ours']['median_s'] / p['theirs']['median_s']:.2f}x | "
            f"{p['max_abs_diff_latents']:.1g} |"
            for p in case["points"]
        ]
    if kind == "length":
        return [
            f"| {p['length']} bytes, batch 1, every position (max_seq_len {case['max_seq_len']}) | {_cell(p['rows'], 'transformers')} | {_cell(p['rows'], 'perceiver-hf')} | {p['ratio']:.2f}x | "
            f"{p['max_abs_diff_logits']:.1g} |"
            for p in (case["points"][0], case["points"][-1])
        ]
    if kind == "quantization":
        agreement = case["agreement"]
        shipped = agreement.get("top1_agreement_shipped_model")
        shipped = "" if shipped is None else f" (the shipped trained perceiver-bytes-small: {shipped:.0%})"
        return [
            f"| int8 dynamic quantization, fill-mask (fp32 / int8) | - | {_cell(case['rows'], 'perceiver-hf')} | "
            f"{case['ratios']['int8 speedup over fp32']:.2f}x faster | top-1 agreement with fp32 at "
            f"{agreement['masked_positions']} masked bytes: {agreement['top1_agreement']:.0%}{shipped} |"
        ]
    if kind == "onnx":
        return [
            f"| onnxruntime fill-mask, {p['model']} (torch fp32 / torch int8 / onnxruntime fp32 / onnxruntime int8) "
            f"| - | {_cell(p['rows'], 'perceiver-hf')} | onnxruntime fp32 "
            f"{p['ratios']['onnxruntime fp32 / torch fp32']:.2f}x, int8 {p['ratios']['onnxruntime int8 / torch fp32']:.2f}x "
            f"of torch fp32; torch int8 {p['ratios']['torch int8 / torch fp32']:.2f}x | "
            f"{p['agreement']['max_abs_diff_logits_onnxruntime_fp32_vs_torch']:.1g} (onnxruntime fp32 vs torch) |"
            for p in case["points"]
        ]
    ratios = " / ".join(f"{v:.2f}x" for v in case["ratios"].values())
    title = case["description"].split(",", 1)[1].strip() if kind.startswith("train") else case["description"]
    title = ("training step: " + title) if kind.startswith("train") else title
    return [
        f"| {title} | {_cell(case['rows'], 'transformers')} | {_cell(case['rows'], 'perceiver-hf')} | {ratios} | "
        f"{_first_diff(case)} |"
    ]


def summary(results: dict[str, Any]) -> str:
    """One table of the headline figures (the README's), then the targets and the machine state."""
    lines = [
        "| benchmark | transformers | perceiver-hf | perceiver-hf / transformers | max abs diff |",
        "|---|---|---|---|---|",
    ]
    for case in results["cases"]:
        lines += _summary_rows(case)
    return "\n".join(lines + [""] + _targets_table(results) + [_machine_line(results)])


def _machine_line(results: dict[str, Any]) -> str:
    info = results["machine"]
    return (
        f"Measured {info['time']} with torch {info['torch']}, transformers {info['transformers']}, fp32, "
        f"torch threads: {info['threads']} on {info['cpus']} CPUs ({info.get('cpu', 'unknown CPU')}), load average {info['load_average_1_5_15']} at the start "
        f"and {results['load_average_at_end']} at the end. Times are medians of {results['repeats']} interleaved "
        f"runs ({results['heavy_repeats']} for batches, training steps and lengths) after one warm-up run, in which "
        "FLOPs are counted with torch's own formulas (torch.utils.flop_counter: matmuls and attention)."
    )


def markdown(results: dict[str, Any]) -> str:
    """All cases as markdown tables, the targets, and the machine state the figures were taken in."""
    lines = [_machine_line(results), ""]
    renderers = {"length": _length_table, "roofline": _roofline_table}
    for case in results["cases"]:
        lines += renderers.get(case["case"], _rows_table)(case)
    lines += ["**Targets**", ""] + _targets_table(results)
    return "\n".join(lines)


def plot_length(case: dict[str, Any], path: Path) -> None:
    """Latency against input length (log2 x axis, linear y axis from 0), one line per implementation."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    lengths = [p["length"] for p in case["points"]]
    fig, ax = plt.subplots(figsize=(6.4, 4.0), dpi=120)
    for index, name in enumerate(r["impl"] for r in case["points"][0]["rows"]):
        seconds = [p["rows"][index]["median_s"] for p in case["points"]]
        ax.plot(lengths, seconds, marker="o", label=name)
    ax.set_xscale("log", base=2)
    ax.set_xticks(lengths, [str(length) for length in lengths])
    ax.set_ylim(bottom=0)
    ax.set_xlabel("input length (bytes)")
    ax.set_ylabel("latency, batch 1 (s)")
    ax.set_title(
        f"Logits at every input position, max_seq_len {case['max_seq_len']}\n"
        "(transformers' decoder always decodes all max_seq_len positions)",
        fontsize=9,
    )
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
