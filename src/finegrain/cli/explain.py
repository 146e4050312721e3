"""``finegrain explain``: which words made a run decide, and how far to trust that.

Writes ``explanations.jsonl`` (per input: its words, character offsets, a score per word for each target,
explainer, seconds), ``explanations.html`` (the words shaded by score) and ``faithfulness.json`` (ERASER
comprehensiveness and sufficiency, Kendall tau against leave-one-out, beside random attributions).

Example:
    finegrain explain runs/reviews-full --text "a great film with a dull end" --method integrated-gradients
    finegrain explain runs/reviews-tfidf --data test --limit 50 --method occlusion --out explained/
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from finegrain.cli.options import add_base_option
from finegrain.data.inputs import InputSource, choose_format
from finegrain.errors import DataError
from finegrain.explain.report_section import FOLDER

__all__ = ["add_parser", "run"]

_EXPLAINERS = "integrated-gradients, gradient-x-input, attention-rollout, occlusion"


def add_parser(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "explain", help="per-word attributions of a run's predictions, with their faithfulness",
        description="Explain a run's predictions: a score per word toward the predicted class (or --target), or"
        " for NER toward each predicted entity; then measure how faithful the scores are.",
        epilog="Example: finegrain explain runs/bbc-full --data test --limit 50 --method integrated-gradients")
    parser.add_argument("run_dir", metavar="RUN_DIR", help="the output directory of 'finegrain train'")
    given = parser.add_mutually_exclusive_group(required=True)
    given.add_argument("--text", action="append", metavar="TEXT",
                       help="a text to explain (repeat for several); pairs: 'first<TAB>second'")
    given.add_argument("--input", metavar="FILE", help="a file of inputs, in the formats 'finegrain predict' reads")
    given.add_argument("--data", metavar="SPLIT", help="the run's own validation or test split")
    parser.add_argument("--limit", type=int, metavar="N",
                        help="explain N inputs only: the first N of --input, or N drawn at random from --data")
    parser.add_argument("--method", default="integrated-gradients", metavar="NAME",
                        help=f"the explainer: {_EXPLAINERS} (the only one fitted methods can use); default"
                             " integrated-gradients")
    parser.add_argument("--target", metavar="LABEL", help="the label to explain instead of the predicted one"
                                                            " (NER: the entity type to explain)")
    parser.add_argument("--steps", type=int, default=32, help="integrated gradients' interpolation steps (default 32)")
    parser.add_argument("--erase", choices=("delete", "mask", "pad"), metavar="HOW",
                        help="how faithfulness and occlusion erase a word: delete, mask or pad (default: delete; NER"
                             " mask, as its words keep their places)")
    parser.add_argument("--no-faithfulness", action="store_true", help="skip the faithfulness measures")
    parser.add_argument("--out", metavar="DIR", help="where the files go (default RUN_DIR/explanations)")
    add_base_option(parser)
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Explain the inputs, measure faithfulness, write jsonl + html (+ json), print the table."""
    if args.limit is not None and args.limit < 1:
        raise DataError(f"--limit must be at least 1 (got {args.limit}).", hint="e.g. --limit 50")
    from finegrain.api import load  # heavy (torch, transformers)
    from finegrain.explain import explain, faithfulness
    from finegrain.explain.page import render_page

    predictor = load(args.run_dir, base=args.base)
    inputs = _limited(_inputs(args, predictor), args)
    explanations = explain(predictor, inputs, args.method, args.target, steps=args.steps, erasure=args.erase)
    table = None if args.no_faithfulness else faithfulness(predictor, inputs, explanations, target=args.target,
                                                           erasure=args.erase)
    out = Path(args.out) if args.out else Path(args.run_dir) / FOLDER
    _write(out, explanations, table, render_page(explanations, table, f"Explanations of {Path(args.run_dir).name}"))
    _print(table, out, len(explanations))
    if table is not None and out.resolve() == (Path(args.run_dir) / FOLDER).resolve():
        _add_to_report(Path(args.run_dir))
    return 0


def _add_to_report(run_dir: Path) -> None:
    """The run's report.md gains (or renews) its Explanations section: faithfulness, most and least faithful."""
    from finegrain.cli.console import make_console
    from finegrain.evaluation.report import rewrite_run_report

    if (run_dir / "metrics.json").is_file():
        path = rewrite_run_report(run_dir)
        make_console().print(f"report: {path} (section Explanations)", markup=False, highlight=False)


def _inputs(args: argparse.Namespace, predictor: Any) -> list[Any]:
    task = predictor.task
    columns = predictor.config.data.chosen_columns(task.data_columns)
    if args.data is not None:
        from finegrain.training.predictor import run_splits

        splits = run_splits(predictor)
        if args.data not in splits:
            raise DataError(f"the run has no '{args.data}' split to explain; it has: {', '.join(splits) or 'none'}.",
                            where="--data", hint="give --data validation or --data test, or --input FILE.")
        return task.predict_inputs(splits[args.data])
    if args.input is not None:
        from finegrain.cli.predict import read_inputs

        return read_inputs(args.input, task.input_formats, columns)
    inputs = []
    for index, text in enumerate(args.text):
        if not text.strip():
            raise DataError(f"--text number {index + 1} is empty: there is nothing to explain.", where="--text",
                            hint='give a text with at least one word, e.g. --text "a great film".')
        given = InputSource("--text", raw=text.encode("utf-8"), columns=columns)
        inputs.extend(choose_format(task.input_formats, given).read(given))
    return inputs


def _limited(inputs: list[Any], args: argparse.Namespace) -> list[Any]:
    if args.limit is None:
        return inputs
    if args.limit > len(inputs):
        source = f"the {args.data} split" if args.data else "the input"
        raise DataError(f"--limit {args.limit} is more than the {len(inputs)} inputs {source} holds.",
                        where="--limit", hint=f"use --limit {len(inputs)} or less, or leave it out to explain all.")
    if not args.data:
        return inputs[:args.limit]  # the user's own texts: the first N, in their order
    from finegrain.data.sampling import spread_positions  # a split may be sorted by label: not its first N

    return [inputs[index] for index in spread_positions(len(inputs), args.limit)]


def _write(out: Path, explanations: list, table: dict | None, page: str) -> None:
    try:
        out.mkdir(parents=True, exist_ok=True)
        lines = "".join(json.dumps(e.to_dict(), ensure_ascii=False) + "\n" for e in explanations)
        (out / "explanations.jsonl").write_text(lines, encoding="utf-8")
        (out / "explanations.html").write_text(page, encoding="utf-8")
        if table is not None:
            (out / "faithfulness.json").write_text(json.dumps(table, indent=2), encoding="utf-8")
    except OSError as error:
        raise DataError(f"cannot write the explanations: {error.strerror or error}.", where=str(out),
                        hint="give --out a folder you can write to.") from None


def _print(table: dict | None, out: Path, count: int) -> None:
    from rich.table import Table

    from finegrain.cli.console import make_console

    console = make_console()
    if table is not None:
        shown = Table(title=f"Faithfulness ({table['n']} explanations; words erased by {table['erasure']})")
        for header in ("attributions", "comprehensiveness AOPC (higher: faithful)", "sufficiency AOPC (lower:"
                       " faithful)", "Kendall tau vs leave-one-out", "seconds / explanation"):
            shown.add_column(header)
        for name, row in table["rows"].items():
            shown.add_row(name, *("–" if row[key] is None else f"{row[key]:.4f}" for key in (
                "comprehensiveness", "sufficiency", "kendall_tau", "seconds")))
        console.print(shown)
    console.print(f"wrote {count} explanations to {out / 'explanations.jsonl'} and {out / 'explanations.html'}")
