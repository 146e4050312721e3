"""A Markdown evaluation report for a run, with its confusion and reliability plots.

``metrics`` maps a split name ("validation", "test", ...) to the dict returned by
:func:`finegrain.tasks.classification.metrics.classification_metrics`, optionally with an
``errors`` list (from ``error_examples``) and an ``images`` dict (name -> relative PNG path).
Any split may be missing, and multi-label metrics are rendered with per-class 2x2 counts.
NER metrics (:meth:`finegrain.tasks.ner.task.NerTask.evaluate`, recognised by ``entity_f1``)
are rendered by :mod:`finegrain.evaluation.ner_report`.

Example:
    >>> import numpy as np
    >>> from finegrain.tasks.classification.metrics import classification_metrics
    >>> m = classification_metrics(np.array([0, 1]), np.array([[0.8, 0.2], [0.3, 0.7]]), ["neg", "pos"])
    >>> render_markdown({"test": m}, title="demo").splitlines()[0]
    '# demo'
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from finegrain.evaluation import ner_report
from finegrain.evaluation.markdown import escape as _escape
from finegrain.evaluation.markdown import fmt as _format
from finegrain.evaluation.markdown import section as _section
from finegrain.evaluation.markdown import table as _table
from finegrain.evaluation.markdown import truncate as _truncate
from finegrain.evaluation.plots import plot_confusion_matrix, plot_reliability
from finegrain.tasks.classification.metrics import most_confused

__all__ = ["render_markdown", "write_report"]

_MAX_MARKDOWN_CONFUSION_CLASSES = 20  # wider tables do not render legibly in Markdown viewers
_SUMMARY_COLUMNS = [
    ("accuracy", "accuracy"),
    ("macro_f1", "macro-F1"),
    ("micro_f1", "micro-F1"),
    ("weighted_f1", "weighted-F1"),
    ("ece", "ECE"),
]


def render_markdown(
    metrics: dict[str, dict[str, Any]], *, title: str, run_info: dict[str, Any] | None = None
) -> str:
    """Render run info, a summary over splits and one section per split as Markdown."""
    parts = [f"# {title}"]
    if run_info:
        info_rows = [[key, _format_info(value)] for key, value in run_info.items()]
        parts.append(_section("Run", _table(["field", "value"], info_rows)))
    if not metrics:
        parts.append("_No evaluation splits were available._")
        return "\n\n".join(parts) + "\n"
    if all(ner_report.is_ner(m) for m in metrics.values()):
        parts.append(_section("Summary", ner_report.summary_table(metrics)))
        parts.extend(ner_report.split_section(split, m) for split, m in metrics.items())
        return "\n\n".join(parts) + "\n"
    parts.append(_section("Summary", _summary_table(metrics)))
    parts.extend(_split_section(split, split_metrics) for split, split_metrics in metrics.items())
    return "\n\n".join(parts) + "\n"


def write_report(
    run_dir: Path,
    metrics: dict[str, dict[str, Any]],
    *,
    title: str,
    run_info: dict[str, Any] | None = None,
) -> Path:
    """Write ``run_dir/plots/*.png`` and ``run_dir/report.md``; return the report path.

    Single-label splits get ``confusion_<split>.png`` and ``reliability_<split>.png``;
    multi-label splits have no single confusion matrix, so their counts stay in the Markdown.
    The caller's ``metrics`` is not modified.
    """
    run_dir = Path(run_dir)
    with_images = {split: _with_plots(run_dir, split, m) for split, m in metrics.items()}
    report_path = run_dir / "report.md"
    report_path.parent.mkdir(parents=True, exist_ok=True)
    report_path.write_text(render_markdown(with_images, title=title, run_info=run_info), encoding="utf-8")
    return report_path


def _with_plots(run_dir: Path, split: str, split_metrics: dict[str, Any]) -> dict[str, Any]:
    """Draw the split's plots and return a copy of its metrics with their relative paths."""
    if split_metrics.get("multi_label") or ner_report.is_ner(split_metrics):
        return split_metrics  # no single-label confusion matrix; the NER one stays in the Markdown
    stem = re.sub(r"[^A-Za-z0-9_.-]+", "_", split)
    confusion = split_metrics["confusion_matrix"]
    images = dict(split_metrics.get("images") or {})
    plot_confusion_matrix(
        confusion["matrix"], confusion["labels"], run_dir / "plots" / f"confusion_{stem}.png",
        title=f"Confusion matrix ({split})",
    )
    images["confusion"] = f"plots/confusion_{stem}.png"
    plot_reliability(
        split_metrics["calibration"],
        run_dir / "plots" / f"reliability_{stem}.png",
        title=f"Reliability ({split})",
    )
    images["reliability"] = f"plots/reliability_{stem}.png"
    return {**split_metrics, "images": images}


def _summary_table(metrics: dict[str, dict[str, Any]]) -> str:
    """Splits as rows, headline metrics as columns."""
    headers = ["split", "n"] + [header for _, header in _SUMMARY_COLUMNS]
    rows = [
        [split, m["n"]] + [_format(m.get(key)) for key, _ in _SUMMARY_COLUMNS] for split, m in metrics.items()
    ]
    note = ""
    if any(m.get("multi_label") for m in metrics.values()):
        note = "\n\nMulti-label: accuracy is exact-match (subset) accuracy; ECE is the mean per-label ECE."
    return _table(headers, rows) + note


def _split_section(split: str, m: dict[str, Any]) -> str:
    """Everything about one split: per-class scores, confusions, calibration, errors."""
    images = m.get("images") or {}
    parts = [f"## {_escape(split.capitalize())} (n = {m['n']})", _per_class_section(m)]
    if m.get("multi_label"):
        parts.append(_multi_label_section(m))
    else:
        parts.append(_confusion_section(m, images.get("confusion")))
        parts.append(_calibration_section(m, images.get("reliability")))
    if m.get("errors"):
        parts.append(_errors_section(m["errors"]))
    others = {name: p for name, p in images.items() if name not in {"confusion", "reliability"}}
    parts.extend(f"![{_escape(name)}]({p})" for name, p in others.items())
    return "\n\n".join(parts)


def _per_class_section(m: dict[str, Any]) -> str:
    headers = ["label", "precision", "recall", "F1", "support"]
    rows = [
        [name, _format(s["precision"]), _format(s["recall"]), _format(s["f1"]), s["support"]]
        for name, s in m["per_class"].items()
    ]
    return _section("Per class", _table(headers, rows), level=3)


def _confusion_section(m: dict[str, Any], image: str | None) -> str:
    """Most confused pairs, then the matrix as a table (when small enough) and as an image."""
    confusion = m["confusion_matrix"]
    pairs = most_confused(confusion, k=10)
    parts = [
        _table(["gold", "predicted", "count"], [[p["gold"], p["predicted"], p["count"]] for p in pairs])
        if pairs
        else "_No confusions: every prediction is correct._"
    ]
    labels = confusion["labels"]
    if len(labels) <= _MAX_MARKDOWN_CONFUSION_CLASSES:
        headers = ["gold \\ predicted"] + labels
        parts.append(_table(headers, [[label] + row for label, row in zip(labels, confusion["matrix"])]))
    else:
        parts.append(
            f"_The confusion matrix has {len(labels)} classes, more than "
            f"{_MAX_MARKDOWN_CONFUSION_CLASSES}: it is shown only as an image._"
        )
    if image:
        parts.append(f"![confusion matrix]({image})")
    return _section("Most confused pairs and confusion matrix", "\n\n".join(parts), level=3)


def _calibration_section(m: dict[str, Any], image: str | None) -> str:
    body = f"Expected calibration error (top-label confidence): {_format(m['ece'])}"
    if image:
        body += f"\n\n![reliability diagram]({image})"
    return _section("Calibration", body, level=3)


def _multi_label_section(m: dict[str, Any]) -> str:
    """Per-label 2x2 counts and ECE, since multi-label has no single confusion matrix."""
    per_label_ece = m.get("per_label_ece", {})
    rows = [
        [name, tn, fp, fn, tp, _format(per_label_ece.get(name))]
        for name, ((tn, fp), (fn, tp)) in m["confusion_matrix"]["per_class"].items()
    ]
    body = (
        f"Hamming loss: {_format(m.get('hamming_loss'))}; mean per-label ECE: {_format(m['ece'])}\n\n"
        + _table(["label", "TN", "FP", "FN", "TP", "ECE"], rows)
    )
    return _section("Per-label confusion counts", body, level=3)


def _errors_section(errors: list[dict[str, Any]]) -> str:
    headers = ["#", "index", "gold", "predicted", "confidence", "text"]
    rows = [
        [rank, e["index"], e["gold"], e["predicted"], _format(e["confidence"]), _truncate(e["text"])]
        for rank, e in enumerate(errors, start=1)
    ]
    return _section("Most confident errors", _table(headers, rows), level=3)


def _format_info(value: Any) -> str:
    """Run-info values span magnitudes (learning rates, seconds), so floats get 4 significant digits."""
    return f"{value:.4g}" if isinstance(value, float) else _format(value)
