"""`perceiver-hf export onnx MODEL OUTPUT_DIR [--opset N] [--quantize int8]`: a validated ONNX Runtime folder.

Writes model.onnx (dynamic batch and length; weights in model.onnx.data for models above 1 GB), config.json,
the tokenizer, README.md with a section on running it, and onnx_fill.py, which fills masks with onnxruntime
alone. Before writing, onnxruntime runs the graph on sample inputs and its logits are compared with torch's:
the max abs difference is printed and a difference above 1e-4 refuses the export. OUTPUT_DIR follows the
converters' rules (a non-empty folder needs --force, which replaces only a folder perceiver-hf wrote).
Needs the `onnx` extra: pip install 'perceiver-hf[onnx]'.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

COMMAND = "export onnx"


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Add `export` (with its `onnx` target) to the `perceiver-hf` parser."""
    export = subparsers.add_parser("export", help="export a model for a runtime other than PyTorch (onnx)")
    targets = export.add_subparsers(dest="target", metavar="TARGET")
    parser = targets.add_parser(
        "onnx", help="write model.onnx validated against torch, with config and tokenizer",
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("model", metavar="MODEL", help="a saved perceiver-hf model: local folder or Hub repo id")
    parser.add_argument("output_dir", metavar="OUTPUT_DIR", type=Path, help="folder to create")
    parser.add_argument("--opset", type=int, default=None, help="ONNX opset to write (default: the exporter's)")
    parser.add_argument("--quantize", choices=["int8"], default=None, help="also write model_int8.onnx")
    parser.add_argument("--revision", default=None, help="branch, tag or commit of MODEL on the Hub")
    parser.add_argument(
        "--force", action="store_true", help="replace OUTPUT_DIR if perceiver-hf wrote it (once the new one is complete)"
    )
    parser.set_defaults(func=run, precheck=precheck)
    return parser


def precheck(args: argparse.Namespace) -> int:
    """Fail at once, before torch is imported, when MODEL is neither a folder nor reachable on the Hub."""
    from .export_hub import model_source_precheck

    return model_source_precheck(COMMAND, args)


def run(args: argparse.Namespace) -> int:
    """Export `args.model` to `args.output_dir`; returns the exit code."""
    from ..deploy.onnx_export import TOLERANCE, export_onnx, require_onnx_runtime
    from ..output_folder import plan_output_folder
    from ..quiet import quiet_loading
    from .export_hub import _read_file, load_model, load_tokenizer

    try:
        require_onnx_runtime()
        plan = plan_output_folder(args.output_dir, force=args.force, inputs=[args.model])
        with quiet_loading():
            model = load_model(args.model, args.revision)
        tokenizer = load_tokenizer(args.model, args.revision, model.config)
        report = export_onnx(
            model, plan, tokenizer, opset=args.opset, quantize=args.quantize,
            model_card=_read_file(args.model, "README.md", args.revision),
        )
    except (OSError, ValueError, TypeError) as error:
        print(f"perceiver-hf {COMMAND}: error: {error}", file=sys.stderr)
        return 1
    print(f"onnxruntime vs torch: max abs logit difference {report.max_abs_diff:.3g} (limit {TOLERANCE:g})")
    if report.int8_max_abs_diff is not None:
        print(
            f"int8 vs torch float32: max abs logit difference {report.int8_max_abs_diff:.3g}, best token agrees at "
            f"{100 * report.int8_top1_agreement:.1f}% of positions"
        )
    print(f"Wrote {report.output_dir} (opset {report.opset}): {', '.join(report.files)}")
    print(f'Fill masks without torch: python {report.output_dir / "onnx_fill.py"} {report.output_dir} "a m[MASK]sk"')
    return 0
