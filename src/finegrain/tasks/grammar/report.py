"""The grammar part of a run's report: strict edit-level precision, recall and F0.5 and exact match per split,
then per split the edits by type (right, missed, spurious) and the most frequent missed and spurious edits.

Example:
    >>> summary({"test": {"n": 1, "f0_5": 1.0}}).splitlines()[0]
    '| split | n | edit F0.5 | precision | recall | exact match | passes |'
"""

from __future__ import annotations

from typing import Any

from finegrain.rendering.markdown import escape, fmt, section, table
from finegrain.tasks.outputs import Column, ReportSections

__all__ = ["SUMMARY_COLUMNS", "summary", "split_section", "REPORT"]

SUMMARY_COLUMNS = (Column("f0_5", "edit F0.5"), Column("precision", "precision"), Column("recall", "recall"),
                   Column("exact_match", "exact match"), Column("passes", "passes"))


def summary(metrics: dict[str, dict[str, Any]]) -> str:
    headers = ["split", "n", *(c.header for c in SUMMARY_COLUMNS)]
    rows = [[name, str(m.get("n", "")), *(fmt(c.value(m)) for c in SUMMARY_COLUMNS)] for name, m in metrics.items()]
    return (table(headers, rows) + "\n\nStrict edit level: a predicted edit (start, end, replacement over the"
            " source's words, from finegrain's own word alignment) counts only if the gold has the same one;"
            " F0.5 weighs precision twice as much as recall (CoNLL-2014, BEA-2019). Scores come from one tagging"
            " pass (passes: 1): iterative correction (task.iterations) runs at prediction, not in evaluation.")


def _analysis(metrics: dict[str, Any]) -> str:
    analysis = dict(metrics.get("error_analysis") or {})
    by_type = analysis.pop("by_type", {})
    kinds = sorted({kind for counts in by_type.values() for kind in counts})
    rows = [[name, *(str(counts.get(k, 0)) for k in kinds)] for name, counts in by_type.items()]
    blocks = [section("Edits by type", table(["", *kinds], rows), level=3)] if kinds else []
    for name, rows in analysis.items():
        if rows:
            body = [[escape(r["original"]), escape(r["correction"]), r["type"], str(r["count"])] for r in rows]
            blocks.append(section(f"Most frequent {name} edits", table(["written", "correction", "type", "count"],
                                                                      body), level=3))
    return "\n\n".join(blocks)


def split_section(name: str, metrics: dict[str, Any]) -> str:
    edits = metrics.get("edits", {})
    body = table(["edits right", "predicted", "gold", "precision", "recall", "F0.5", "exact match"],
                 [[str(edits.get("right", "")), str(edits.get("predicted", "")), str(edits.get("gold", "")),
                   fmt(metrics.get("precision")), fmt(metrics.get("recall")), fmt(metrics.get("f0_5")),
                   fmt(metrics.get("exact_match"))]])
    analysis = _analysis(metrics)
    return section(name.capitalize(), body + ("\n\n" + analysis if analysis else ""))


REPORT = ReportSections(summary=summary, split=split_section)
