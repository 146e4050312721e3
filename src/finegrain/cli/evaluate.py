"""``finegrain eval``: metrics of a finished run, on its own splits or on other data.

Example:
    finegrain eval runs/bbc-full
    finegrain eval runs/bbc-full --data new-articles.csv
    finegrain eval runs/reviews --data other.csv --text-column review --label-column stars
"""

from __future__ import annotations

import argparse

from finegrain.cli.console import make_console, print_metrics
from finegrain.cli.options import add_base_option

__all__ = ["add_parser", "run"]


def add_parser(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "eval", help="evaluate a finished run", description="Evaluate a finished run on its validation/test"
        " splits, or on --data (a labelled file or built-in NAME[:split]).",
        epilog="Example: finegrain eval runs/bbc-full --data bbc-news:test")
    parser.add_argument("run_dir", metavar="RUN_DIR", help="the output directory of 'finegrain train'")
    parser.add_argument("--data", metavar="FILE|NAME", help="labelled data to evaluate on instead")
    parser.add_argument("--text-column", metavar="NAME", help="--data's text column (default: the run's data.text)")
    parser.add_argument("--label-column", metavar="NAME",
                        help="--data's label column (default: the run's data.label)")
    parser.add_argument("--tag-column", metavar="N", type=int,
                        help="a CoNLL --data file's tag column (0 is the token, -1 the last; default: the run's)")
    add_base_option(parser)
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Print the metric tables; with --data, also where the JSON results were written."""
    from finegrain.api import evaluate  # heavy (torch, transformers)

    metrics = evaluate(args.run_dir, args.data, text_column=args.text_column, label_column=args.label_column,
                       tag_column=args.tag_column, base=args.base)
    from finegrain.config import load_config
    from finegrain.training.run_dir import evaluation_path, open_run_dir

    console = make_console()
    print_metrics(console, metrics, load_config(open_run_dir(args.run_dir).config, saved=True).task.name)
    if args.data is not None:
        for name in metrics:
            path = evaluation_path(args.run_dir, name)
            console.print(f"results written to {path}", markup=False, highlight=False)
    return 0
