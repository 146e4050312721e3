"""The pair-classification part of a run's report: the classification sections (per class, confusions,
calibration, with their figures), then ranking and threshold (ROC-AUC; for two classes the F1 at the
threshold chosen on validation) and the most confident errors with both texts.

Example:
    >>> summary({"test": {"n": 2, "accuracy": 1.0, "macro_f1": 1.0, "roc_auc": 1.0, "ece": 0.1}}).splitlines()[0]
    '| split | n | accuracy | macro-F1 | ROC-AUC | threshold F1 | threshold | ECE |'
"""

from __future__ import annotations

from typing import Any

from finegrain.rendering.markdown import fmt, section, table, truncate
from finegrain.tasks.classification import report as classification_report
from finegrain.tasks.outputs import Column, ReportSections

__all__ = ["SUMMARY_COLUMNS", "summary", "split_section", "REPORT"]

SUMMARY_COLUMNS = (Column("accuracy", "accuracy"), Column("macro_f1", "macro-F1"), Column("roc_auc", "ROC-AUC"),
                   Column("threshold_f1.f1", "threshold F1"), Column("threshold_f1.threshold", "threshold"),
                   Column("ece", "ECE"))


def summary(metrics: dict[str, dict[str, Any]]) -> str:
    """Splits as rows, headline metrics as columns, and what the threshold columns mean."""
    headers = ["split", "n"] + [column.header for column in SUMMARY_COLUMNS]
    rows = [[split, m["n"]] + [fmt(column.value(m)) for column in SUMMARY_COLUMNS] for split, m in metrics.items()]
    chosen = next((m["threshold_f1"] for m in metrics.values() if m.get("threshold_f1")), None)
    note = ("\n\nThreshold F1: the F1 of the positive label when its probability is at or above the threshold,"
            f" chosen where F1 is best on {chosen['chosen_on']}; ROC-AUC ranks by that probability."
            if chosen else "\n\nROC-AUC: the mean one-vs-rest AUC over the classes present.")
    return table(headers, rows) + note


def split_section(split: str, m: dict[str, Any]) -> str:
    """The classification sections of the split, then ranking and threshold, then its errors (both texts)."""
    parts = [classification_report.split_section(split, {key: value for key, value in m.items() if key != "errors"}),
             _ranking_section(m)]
    if m.get("errors"):
        parts.append(_errors_section(m["errors"]))
    return "\n\n".join(parts)


def _ranking_section(m: dict[str, Any]) -> str:
    threshold = m.get("threshold_f1")
    if not threshold:
        return section("Ranking", f"ROC-AUC (mean one-vs-rest over the classes present): {fmt(m.get('roc_auc'))}",
                       level=3)
    positive = threshold["positive"]
    where = ("validation" if threshold["chosen_on"] == "validation" else
             f"this split itself ({threshold['chosen_on']}: no validation was scored first, so an optimistic figure)")
    body = (f"ROC-AUC of P({positive}): {fmt(m.get('roc_auc'))}\n\n"
            + table(["positive label", "threshold on P(positive)", "chosen on", "F1", "precision", "recall"],
                    [[positive, fmt(threshold["threshold"]), where, fmt(threshold["f1"]), fmt(threshold["precision"]),
                      fmt(threshold["recall"])]]))
    return section("Ranking and threshold", body, level=3)


def _errors_section(errors: list[dict[str, Any]]) -> str:
    headers = ["#", "index", "gold", "predicted", "confidence", "text", "text pair"]
    rows = [[rank, e["index"], e["gold"], e["predicted"], fmt(e["confidence"]), truncate(e["text"]),
             truncate(e["text_pair"])] for rank, e in enumerate(errors, start=1)]
    return section("Most confident errors", table(headers, rows), level=3)


REPORT = ReportSections(summary=summary, split=split_section, plots=classification_report.draw_plots)
