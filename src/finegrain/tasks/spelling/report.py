"""The spelling part of a run's report: strict and lenient sentence-level scores per split, then per split the
character-level (word-level, for English) scores and the error analysis (most frequent missed and spurious
corrections by confusion type).

Example:
    >>> summary({"test": {"n": 1, "correction_f1": 1.0}}).splitlines()[0].split(" | ")[2:5]
    ['correction F1 (strict)', 'detection F1 (strict)', 'lenient F1 (pycorrector)']
"""

from __future__ import annotations

from typing import Any

from finegrain.rendering.markdown import escape, fmt, section, table
from finegrain.tasks.outputs import Column, ReportSections

__all__ = ["SUMMARY_COLUMNS", "summary", "split_section", "REPORT"]

SUMMARY_COLUMNS = (Column("correction_f1", "correction F1 (strict)"),
                   Column("sentence_detection.f1", "detection F1 (strict)"),
                   Column("lenient.f1", "lenient F1 (pycorrector)"),
                   Column("false_positive_rate", "FPR (clean)"), Column("correction_rate", "correction rate"),
                   Column("over_correction_rate", "over-correction rate"), Column("threshold", "threshold"))


def summary(metrics: dict[str, dict[str, Any]]) -> str:
    headers = ["split", "n", *(c.header for c in SUMMARY_COLUMNS)]
    rows = [[name, str(m.get("n", "")), *(fmt(c.value(m)) for c in SUMMARY_COLUMNS)] for name, m in metrics.items()]
    return (table(headers, rows) + "\n\nStrict: a sentence counts only if every changed position (and character,"
            " for correction) matches the gold. Lenient: pycorrector's sentence F1, where a wrong correction of a"
            " sentence with errors is never a false positive; published pycorrector figures use it. Correction rate:"
            " wrong characters (words, at the word level) corrected / wrong ones; over-correction rate: right ones"
            " changed / right ones.")


def _analysis(metrics: dict[str, Any]) -> str:
    analysis = dict(metrics.get("error_analysis") or {})
    by_kind = analysis.pop("by_kind", {})
    kinds = sorted({kind for counts in by_kind.values() for kind in counts})
    blocks = [section("Errors by confusion type", table(["", *kinds], [[name, *(str(counts.get(k, 0)) for k in kinds)]
                                                                        for name, counts in by_kind.items()]),
                      level=3)] if kinds else []
    for name, rows in analysis.items():
        if rows:
            body = [[escape(r["original"]), escape(r["correction"]), str(r["count"]), r["kind"]] for r in rows]
            blocks.append(section(f"Most frequent {name} corrections",
                                  table(["written", "correction", "count", "confusion"], body), level=3))
    return "\n\n".join(blocks)


def split_section(name: str, metrics: dict[str, Any]) -> str:
    unit, units = ("word", metrics["word"]) if "word" in metrics else ("character", metrics.get("char", {}))
    rows = [[level, fmt(scores.get("precision")), fmt(scores.get("recall")), fmt(scores.get("f1"))]
            for level, scores in (("sentence detection", metrics.get("sentence_detection", {})),
                                  ("sentence correction", metrics.get("sentence_correction", {})),
                                  (f"{unit} detection", units.get("detection", {})),
                                  (f"{unit} correction", units.get("correction", {})),
                                  ("lenient (pycorrector)", metrics.get("lenient", {})))]
    note = (f"\n\n{metrics['unequal_pairs']} pair(s) differ in length: scored at sentence level only."
            if metrics.get("unequal_pairs") else "")
    body = table(["level", "precision", "recall", "F1"], rows) + note
    analysis = _analysis(metrics)
    return section(name.capitalize(), body + ("\n\n" + analysis if analysis else ""))


REPORT = ReportSections(summary=summary, split=split_section)
