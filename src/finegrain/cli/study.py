"""``finegrain study``: compare methods over training sizes and seeds in one command.

Example:
    finegrain study configs/study-demo.yaml
    finegrain study configs/study-demo.yaml seeds=[0,1,2] --resume
    finegrain study configs/study-demo.yaml --executor ray --address auto --cpus-per-cell 2
"""

from __future__ import annotations

import argparse
from typing import Any

from finegrain.cli.console import make_console
from finegrain.errors import ConfigError

__all__ = ["add_parser", "run"]


def add_parser(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "study", help="compare methods over training sizes and seeds",
        description="Run every cell of a study (methods x sizes x seeds), aggregate over seeds with bootstrap"
        " intervals and paired tests, and write report.html and report.md into the study's output folder.",
        epilog="Example: finegrain study configs/study-demo.yaml sizes=[8,64] --resume")
    parser.add_argument("items", nargs="+", metavar="STUDY.yaml [key=value ...]",
                        help="the study file, then dotted overrides such as seeds=[0,1] or train.epochs=5")
    parser.add_argument("--resume", action="store_true", help="keep finished cells, run the rest (and failed ones)")
    parser.add_argument("--overwrite", action="store_true", help="replace the study in the output folder")
    cluster = parser.add_argument_group("where the cells run (the study's executor section)")
    cluster.add_argument("--executor", choices=["local", "ray"],
                         help="local: one cell after another here; ray: each cell in a Ray worker process")
    cluster.add_argument("--address", help="ray: auto (the cluster `ray start` began here), local (start Ray for "
                                           "this command) or the head's HOST:PORT")
    cluster.add_argument("--cpus-per-cell", type=float, help="ray: CPUs per cell, also its torch threads (default 1)")
    cluster.add_argument("--gpus-per-cell", type=float, help="ray: GPUs per cell (default 0)")
    parser.set_defaults(handler=run)


def executor_overrides(args: argparse.Namespace) -> list[str]:
    """The executor flags as dotted overrides (quoted: YAML would read some HOST:PORT forms as numbers)."""
    flags = {"name": args.executor, "address": args.address, "cpus": args.cpus_per_cell, "gpus": args.gpus_per_cell}
    return [f'executor.{key}="{value}"' if isinstance(value, str) else f"executor.{key}={value}"
            for key, value in flags.items() if value is not None]


def run(args: argparse.Namespace) -> int:
    from finegrain.study import run_study  # heavy (torch, transformers)

    config, *overrides = args.items
    if "=" in config:
        raise ConfigError(f"The first argument must be the study file, got the override '{config}'.",
                          hint="Write: finegrain study STUDY.yaml key=value ...")
    console = make_console()

    def report_cell(index: int, total: int, cell: Any, record: dict[str, Any]) -> None:
        if record.get("status") == "finished":
            outcome = f"{record['metric']} {record['score']:.4f}"
        else:
            outcome = f"FAILED: {record.get('error', '').splitlines()[0][:160]}"
        console.print(f"[{index}/{total}] {cell.name}: {outcome} ({record.get('wall_seconds', 0):.0f} s)",
                      markup=False, highlight=False)

    result = run_study(config, overrides + executor_overrides(args), resume=args.resume, overwrite=args.overwrite,
                       on_cell=report_cell)
    print_summary(console, result.summary)
    console.print(f"report: {result.report}  (also {result.path / 'report.md'})", markup=False, highlight=False)
    return 0


def print_summary(console: Any, summary: dict[str, Any]) -> None:
    """The findings and the results table, as in the report."""
    from rich.table import Table

    from finegrain.study.report import findings_text, results_table

    console.print(findings_text(summary), markup=False, highlight=False)
    headers, rows = results_table(summary["rows"], summary["metric"])
    table = Table(*headers, title=f"test {summary['metric']} over {len(summary['seeds'])} seed(s)")
    for row in rows:
        table.add_row(*[str(cell) for cell in row], style="bold" if row[5] == "best" else None)
    console.print(table)
