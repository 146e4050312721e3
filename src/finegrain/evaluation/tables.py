"""rich tables of evaluation metrics for the CLI, in the columns the task declares.

Label and split names are wrapped in :class:`rich.text.Text`, so a name such as ``[pos]`` is
shown as written instead of being read as rich markup.

Example:
    >>> from rich.console import Console
    >>> from finegrain.tasks.outputs import Column
    >>> m = {"n": 2, "accuracy": 1.0}
    >>> Console(width=100).print(metrics_table({"test": m}, (Column("accuracy", "accuracy"),)))  # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rich.table import Table
from rich.text import Text

from finegrain.tasks.outputs import ClassScores, Column

__all__ = ["metrics_table", "class_table"]


def metrics_table(metrics: dict[str, dict[str, Any]], columns: Sequence[Column]) -> Table:
    """One row per split: n, then the task's summary columns, values to 4 decimals."""
    table = Table(title="Evaluation")
    table.add_column("split", style="bold")
    table.add_column("n", justify="right")
    for column in columns:
        table.add_column(column.header, justify="right")
    for split, split_metrics in metrics.items():
        values = [_format(column.value(split_metrics)) for column in columns]
        table.add_row(Text(split), str(split_metrics.get("n", "-")), *values)
    return table


def class_table(metrics_for_split: dict[str, Any], scores: ClassScores) -> Table:
    """One row per class (or type) of a split: precision, recall, F1 and support."""
    table = Table(title=scores.title)
    table.add_column(scores.name)
    for header in ("precision", "recall", "F1", "support"):
        table.add_column(header, justify="right")
    for name, row in scores.rows(metrics_for_split).items():
        table.add_row(Text(str(name)), _format(row["precision"]), _format(row["recall"]), _format(row["f1"]),
                      str(row["support"]))
    return table


def _format(value: float | None) -> str:
    return "-" if value is None else f"{value:.4f}"
