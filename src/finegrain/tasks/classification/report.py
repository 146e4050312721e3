"""The classification part of a run's report: per-class scores, confusions, calibration, multi-label
counts and the most confident errors, with a confusion heat map and a reliability diagram per split.

``metrics`` of a split is the dict of :func:`~finegrain.tasks.classification.metrics.classification_metrics`,
with an ``errors`` list (single-label) and, once :func:`draw_plots` has run, ``images``.

Example:
    >>> import numpy as np
    >>> from finegrain.tasks.classification.metrics import classification_metrics
    >>> m = classification_metrics(np.array([0, 1]), np.array([[0.8, 0.2], [0.3, 0.7]]), ["neg", "pos"])
    >>> summary({"test": m}).splitlines()[0]
    '| split | n | accuracy | macro-F1 | micro-F1 | weighted-F1 | ECE |'
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from finegrain.rendering.figures import plot_confusion_matrix
from finegrain.rendering.markdown import escape, fmt, section, table, truncate
from finegrain.tasks.classification.metrics import most_confused
from finegrain.tasks.classification.plots import plot_reliability
from finegrain.tasks.outputs import Column

__all__ = ["SUMMARY_COLUMNS", "summary", "split_section", "draw_plots"]

_MAX_MARKDOWN_CONFUSION_CLASSES = 20  # wider tables do not render legibly in Markdown viewers
SUMMARY_COLUMNS = (Column("accuracy", "accuracy"), Column("macro_f1", "macro-F1"), Column("micro_f1", "micro-F1"),
                   Column("weighted_f1", "weighted-F1"), Column("ece", "ECE"))


def summary(metrics: dict[str, dict[str, Any]]) -> str:
    """Splits as rows, headline metrics as columns."""
    headers = ["split", "n"] + [column.header for column in SUMMARY_COLUMNS]
    rows = [[split, m["n"]] + [fmt(column.value(m)) for column in SUMMARY_COLUMNS] for split, m in metrics.items()]
    note = ""
    if any(m.get("multi_label") for m in metrics.values()):
        note = "\n\nMulti-label: accuracy is exact-match (subset) accuracy; ECE is the mean per-label ECE."
    return table(headers, rows) + note


def draw_plots(run_dir: Path, split: str, m: dict[str, Any]) -> dict[str, str]:
    """``plots/confusion_<split>.png`` and ``plots/reliability_<split>.png`` of a single-label split; a
    multi-label split has no single confusion matrix, so its counts stay in the Markdown."""
    if m.get("multi_label"):
        return {}
    stem = re.sub(r"[^A-Za-z0-9_.-]+", "_", split)
    confusion = m["confusion_matrix"]
    plot_confusion_matrix(confusion["matrix"], confusion["labels"], run_dir / "plots" / f"confusion_{stem}.png",
                          title=f"Confusion matrix ({split})")
    plot_reliability(m["calibration"], run_dir / "plots" / f"reliability_{stem}.png", title=f"Reliability ({split})")
    return {"confusion": f"plots/confusion_{stem}.png", "reliability": f"plots/reliability_{stem}.png"}


def split_section(split: str, m: dict[str, Any]) -> str:
    """Everything about one split: per-class scores, confusions, calibration, errors."""
    images = m.get("images") or {}
    parts = [f"## {escape(split.capitalize())} (n = {m['n']})", _per_class_section(m)]
    if m.get("multi_label"):
        parts.append(_multi_label_section(m))
    else:
        parts.append(_confusion_section(m, images.get("confusion")))
        parts.append(_calibration_section(m, images.get("reliability")))
    if m.get("errors"):
        parts.append(_errors_section(m["errors"]))
    others = {name: p for name, p in images.items() if name not in {"confusion", "reliability"}}
    parts.extend(f"![{escape(name)}]({p})" for name, p in others.items())
    return "\n\n".join(parts)


def _per_class_section(m: dict[str, Any]) -> str:
    headers = ["label", "precision", "recall", "F1", "support"]
    rows = [[name, fmt(s["precision"]), fmt(s["recall"]), fmt(s["f1"]), s["support"]]
            for name, s in m["per_class"].items()]
    return section("Per class", table(headers, rows), level=3)


def _confusion_section(m: dict[str, Any], image: str | None) -> str:
    """Most confused pairs, then the matrix as a table (when small enough) and as an image."""
    confusion = m["confusion_matrix"]
    pairs = most_confused(confusion, k=10)
    parts = [table(["gold", "predicted", "count"], [[p["gold"], p["predicted"], p["count"]] for p in pairs])
             if pairs else "_No confusions: every prediction is correct._"]
    labels = confusion["labels"]
    if len(labels) <= _MAX_MARKDOWN_CONFUSION_CLASSES:
        headers = ["gold \\ predicted"] + labels
        parts.append(table(headers, [[label] + row for label, row in zip(labels, confusion["matrix"])]))
    else:
        parts.append(f"_The confusion matrix has {len(labels)} classes, more than "
                     f"{_MAX_MARKDOWN_CONFUSION_CLASSES}: it is shown only as an image._")
    if image:
        parts.append(f"![confusion matrix]({image})")
    return section("Most confused pairs and confusion matrix", "\n\n".join(parts), level=3)


def _calibration_section(m: dict[str, Any], image: str | None) -> str:
    body = f"Expected calibration error (top-label confidence): {fmt(m['ece'])}"
    if image:
        body += f"\n\n![reliability diagram]({image})"
    return section("Calibration", body, level=3)


def _multi_label_section(m: dict[str, Any]) -> str:
    """Per-label 2x2 counts and ECE, since multi-label has no single confusion matrix."""
    per_label_ece = m.get("per_label_ece", {})
    rows = [[name, tn, fp, fn, tp, fmt(per_label_ece.get(name))]
            for name, ((tn, fp), (fn, tp)) in m["confusion_matrix"]["per_class"].items()]
    body = (f"Hamming loss: {fmt(m.get('hamming_loss'))}; mean per-label ECE: {fmt(m['ece'])}\n\n"
            + table(["label", "TN", "FP", "FN", "TP", "ECE"], rows))
    return section("Per-label confusion counts", body, level=3)


def _errors_section(errors: list[dict[str, Any]]) -> str:
    headers = ["#", "index", "gold", "predicted", "confidence", "text"]
    rows = [[rank, e["index"], e["gold"], e["predicted"], fmt(e["confidence"]), truncate(e["text"])]
            for rank, e in enumerate(errors, start=1)]
    return section("Most confident errors", table(headers, rows), level=3)
