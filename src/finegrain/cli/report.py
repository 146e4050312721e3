"""``finegrain report``: rebuild the report of a study or a run from what is on disk.

Example:
    finegrain report studies/demo
    finegrain report runs/bbc-full
"""

from __future__ import annotations

import argparse
from pathlib import Path

from finegrain.cli.console import make_console

__all__ = ["add_parser", "run"]


def add_parser(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "report", help="rebuild the report of a study or run",
        description="Aggregate a study's finished cells again and rewrite report.html/report.md, or rewrite a"
        " finished run's report.md and plots.", epilog="Example: finegrain report studies/demo")
    parser.add_argument("folder", metavar="RUN_OR_STUDY_DIR")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    folder = Path(args.folder)
    console = make_console()
    if (folder / "study.yaml").is_file():
        from finegrain.cli.study import print_summary
        from finegrain.study import rebuild_report

        result = rebuild_report(folder)
        print_summary(console, result.summary)
        console.print(f"report: {result.report}", markup=False, highlight=False)
        return 0
    from finegrain.evaluation.report import rewrite_run_report

    path = rewrite_run_report(folder)
    console.print(f"report: {path}", markup=False, highlight=False)
    return 0
