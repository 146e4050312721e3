"""``finegrain report``: rebuild the report of a study or a run from what is on disk.

Example:
    finegrain report studies/demo
    finegrain report runs/bbc-full
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from finegrain.cli.console import make_console
from finegrain.errors import RunDirError

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
    from finegrain.evaluation.report import write_report
    from finegrain.registry import TASKS
    from finegrain.training.run_dir import open_run_dir
    from finegrain.training.run_record import report_info

    run_dir = open_run_dir(folder)
    if not run_dir.metrics.is_file():
        raise RunDirError(f"'{folder}' holds neither a study (study.yaml) nor a finished run (metrics.json).",
                          hint="Give the output folder of 'finegrain study' or of a finished 'finegrain train'.")
    info = json.loads(run_dir.info.read_text(encoding="utf-8"))
    metrics = json.loads(run_dir.metrics.read_text(encoding="utf-8"))
    path = write_report(run_dir.path, metrics, TASKS.get(info["task"]).report,
                        title=f"{info['task']} · {info['method']} · {folder.name}", run_info=report_info(info))
    console.print(f"report: {path}", markup=False, highlight=False)
    return 0
