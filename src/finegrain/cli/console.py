"""Shared output helpers for the CLI: one rich console, the metric tables of a run."""

from __future__ import annotations

from typing import Any

from rich.console import Console

__all__ = ["make_console", "print_metrics"]


def make_console(stderr: bool = False) -> Console:
    """A rich console; wide enough when piped so that tables are not squeezed to 80 columns."""
    console = Console(stderr=stderr)
    if not console.is_terminal:
        console = Console(stderr=stderr, width=120)
    return console


def print_metrics(console: Console, metrics: dict[str, dict[str, Any]], task: str) -> None:
    """The metrics table of every split in the columns of ``task`` (its registered name), then the task's
    per-class table of the test split, where it has one.

    The per-class table is of ``test``, else ``validation``, else the only split given.
    """
    from finegrain.evaluation.tables import class_table, metrics_table
    from finegrain.registry import TASKS

    if not metrics:
        return
    entry = TASKS.get(task)
    console.print(metrics_table(metrics, entry.summary_columns))
    split = next((name for name in ("test", "validation") if name in metrics), next(iter(metrics)))
    if entry.class_scores is not None:
        table = class_table(metrics[split], entry.class_scores)
        table.title = f"{entry.class_scores.title} ({split})"
        console.print(table)
