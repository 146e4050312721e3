"""``finegrain export``: a finished run as a merged Hugging Face model, ONNX or int8 ONNX, with a parity check.

Example:
    finegrain export runs/reviews-lora --format onnx-int8 --out exports/reviews-int8
"""

from __future__ import annotations

import argparse
from typing import Any

from finegrain.cli.options import add_base_option

__all__ = ["add_parser", "run", "format_parity"]

_FORMATS = ("hf", "onnx", "onnx-int8")  # finegrain.serving.export.FORMATS, without importing torch for --help


def add_parser(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "export", help="export a run (merged HF model, ONNX, int8 ONNX)",
        description="Export a finished run: 'hf' a merged plain Hugging Face model, 'onnx' an ONNX graph for"
        " onnxruntime, 'onnx-int8' the same with int8 weights. Each export is loaded back and checked against the"
        " run on its validation data (parity.json beside the export). Methods that cannot merge"
        " (prefix, prompt, adapter) are refused.",
        epilog="Example: finegrain export runs/reviews-lora --format onnx-int8 && finegrain serve"
               " runs/reviews-lora/exports/onnx-int8")
    parser.add_argument("run_dir", metavar="RUN_DIR", help="the output directory of 'finegrain train'")
    parser.add_argument("--format", choices=_FORMATS, default="hf", help="what to write (default hf)")
    parser.add_argument("--out", metavar="DIR", help="output folder (default RUN_DIR/exports/FORMAT)")
    add_base_option(parser)
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Export, then print the parity report."""
    from finegrain.serving.export import export_run  # heavy (torch, transformers, onnx)

    report = export_run(args.run_dir, args.format, args.out, base=args.base)
    print(format_parity(report))
    return 0


def format_parity(report: dict[str, Any]) -> str:
    """The parity report as a few aligned lines."""
    verdict = "within tolerance" if report["within_tolerance"] else "OUTSIDE TOLERANCE: check before shipping"
    limits = ", ".join(f"{k} <= {v}" for k, v in report["tolerance"].items() if v is not None)
    return "\n".join([
        f"exported {report['format']} ({'merged' if report['merged'] else 'plain'} {report['method']} run)"
        f" to {report['output']}",
        f"parity on {report['examples']} {report['split']} examples ({verdict}; {limits}):",
        f"  max abs logit difference  {report['max_abs_logit_diff']:.3g}",
        f"  label agreement           {report['label_agreement']:.2%}",
        f"  {report['metric']:<24}  {report['metric_before']:.4f} -> {report['metric_after']:.4f}"
        f" ({report['metric_after'] - report['metric_before']:+.4f})",
        f"report: {report['output']}/parity.json",
    ])
