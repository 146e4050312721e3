"""rich tables of evaluation metrics for the CLI.

Label and split names are wrapped in :class:`rich.text.Text`, so a name such as ``[pos]`` is
shown as written instead of being read as rich markup.

Example:
    >>> from rich.console import Console
    >>> m = {"n": 2, "accuracy": 1.0, "macro_f1": 1.0, "micro_f1": 1.0, "weighted_f1": 1.0, "ece": 0.1}
    >>> Console(width=100).print(metrics_table({"test": m}))  # doctest: +SKIP
"""

from __future__ import annotations

from typing import Any

from rich.table import Table
from rich.text import Text

__all__ = ["metrics_table", "per_class_table"]

_METRIC_COLUMNS = [
    ("accuracy", "accuracy"),
    ("macro_f1", "macro-F1"),
    ("micro_f1", "micro-F1"),
    ("weighted_f1", "weighted-F1"),
    ("ece", "ECE"),
]


_NER_COLUMNS = [
    ("entity_f1", "entity-F1"),
    ("entity_precision", "entity-P"),
    ("entity_recall", "entity-R"),
    ("macro_f1", "macro-F1"),
    ("token_accuracy", "token accuracy"),
]


def metrics_table(metrics: dict[str, dict[str, Any]]) -> Table:
    """One row per split (n, accuracy, macro/micro/weighted F1, ECE), values to 4 decimals.

    NER splits (those with ``entity_f1``) show strict entity F1/P/R, macro-F1 and token accuracy.
    """
    columns = _METRIC_COLUMNS
    if metrics and all("entity_f1" in m for m in metrics.values()):
        columns = _NER_COLUMNS
    elif any("entity_f1" in m for m in metrics.values()):
        columns = _METRIC_COLUMNS + _NER_COLUMNS[:1]
    table = Table(title="Evaluation")
    table.add_column("split", style="bold")
    table.add_column("n", justify="right")
    for _, header in columns:
        table.add_column(header, justify="right")
    for split, split_metrics in metrics.items():
        values = [_format(split_metrics.get(key)) for key, _ in columns]
        table.add_row(Text(split), str(split_metrics.get("n", "-")), *values)
    return table


def per_class_table(metrics_for_split: dict[str, Any]) -> Table:
    """One row per label of a split: precision, recall, F1 and support."""
    table = Table(title="Per class")
    table.add_column("label")
    for header in ("precision", "recall", "F1", "support"):
        table.add_column(header, justify="right")
    for name, scores in metrics_for_split["per_class"].items():
        table.add_row(
            Text(str(name)),
            _format(scores["precision"]),
            _format(scores["recall"]),
            _format(scores["f1"]),
            str(scores["support"]),
        )
    return table


def _format(value: float | None) -> str:
    return "-" if value is None else f"{value:.4f}"
