"""What the NER task declares about its outputs: tables, report, study view (its serving payload is in
``serving.py``). The headline is strict entity F1; the report adds the default (conlleval-like) mode.

Example:
    >>> [column.header for column in SUMMARY_COLUMNS][:2]
    ['entity-F1', 'entity-P']
"""

from __future__ import annotations

from typing import Any

from finegrain.tasks.counts import micro_f1
from finegrain.tasks.ner import report
from finegrain.tasks.outputs import Column, CountBreakdown, ReportSections, StudyView

__all__ = ["SUMMARY_COLUMNS", "REPORT", "STUDY"]

SUMMARY_COLUMNS = (Column("entity_f1", "entity-F1"), Column("entity_precision", "entity-P"),
                   Column("entity_recall", "entity-R"), Column("macro_f1", "macro-F1"),
                   Column("token_accuracy", "token accuracy"))


def _type_f1(metrics: dict[str, Any]) -> dict[str, float]:
    return {name: scores["f1"] for name, scores in ((metrics.get("strict") or {}).get("per_type") or {}).items()}


def _error_counts(metrics: dict[str, Any]) -> dict[str, float] | None:
    return (metrics.get("error_analysis") or {}).get("counts")


REPORT = ReportSections(summary=report.summary, split=report.split_section)
ERRORS = CountBreakdown(key="ner_errors", heading="NER error breakdown",
                        text="Boundary, type, boundary+type, missed and spurious entities.",
                        title="NER errors by kind at size {size}", axis="errors on the test set (mean over seeds)",
                        counts=_error_counts)
# entity F1 from per-sentence entity tp/fp/fn, as example_counts gives them
STUDY = StudyView(metric_label="entity F1", score_counts=micro_f1, class_f1=_type_f1, breakdowns=(ERRORS,))
