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


def print_metrics(console: Console, metrics: dict[str, dict[str, Any]]) -> None:
    """The metrics table of every split, then the per-class table of the test split.

    The per-class table is of ``test``, else ``validation``, else the only split given.
    """
    from finegrain.evaluation.tables import metrics_table, per_class_table

    if not metrics:
        return
    console.print(metrics_table(metrics))
    split = next((name for name in ("test", "validation") if name in metrics), next(iter(metrics)))
    if "per_class" in metrics[split]:
        table = per_class_table(metrics[split])
        table.title = f"Per class ({split})"
        console.print(table)
