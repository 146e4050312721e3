"""What the classification task declares about its outputs: tables, report, study view (its serving
payload is in ``serving.py``).

Example:
    >>> [column.header for column in SUMMARY_COLUMNS][:2]
    ['accuracy', 'macro-F1']
"""

from __future__ import annotations

from typing import Any

from finegrain.tasks.classification import report
from finegrain.tasks.classification.report import SUMMARY_COLUMNS
from finegrain.tasks.counts import macro_f1
from finegrain.tasks.outputs import ClassScores, ReportSections, StudyView

__all__ = ["SUMMARY_COLUMNS", "CLASS_SCORES", "REPORT", "STUDY"]


def _per_class(metrics: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return metrics["per_class"]


def _class_f1(metrics: dict[str, Any]) -> dict[str, float]:
    return {name: scores["f1"] for name, scores in metrics["per_class"].items()}


def _confusion(metrics: dict[str, Any]) -> dict[str, Any] | None:
    """The single-label matrix; multi-label results have per-label 2x2 counts instead."""
    confusion = metrics.get("confusion_matrix") or {}
    return confusion if "matrix" in confusion else None


CLASS_SCORES = ClassScores(title="Per class", name="label", rows=_per_class)
REPORT = ReportSections(summary=report.summary, split=report.split_section, plots=report.draw_plots)
# macro F1 from per-class tp/fp/fn, as example_counts lays them out
STUDY = StudyView(metric_label="macro F1", score_counts=macro_f1, class_f1=_class_f1, confusion=_confusion)
