"""The NER part of the Markdown report: entity scores, error kinds, entity confusions, patterns.

``metrics`` of a split is the dict of :meth:`finegrain.tasks.ner.task.NerTask.evaluate`:
strict (in the data's scheme) and default (conlleval-like) entity scores with per-type rows,
``token_accuracy``, ``unseen_tags`` and an ``error_analysis``. Strict is the headline; the
default mode is shown beside it because published CoNLL numbers use it.

Example:
    >>> from finegrain.tasks.ner.metrics import entity_metrics
    >>> m = entity_metrics([["B-PER", "O"]], [["B-PER", "O"]], "IOB2")
    >>> summary({"test": m}).splitlines()[0].startswith("| split | n | entity P |")
    True
"""

from __future__ import annotations

from typing import Any

from finegrain.rendering.markdown import escape, fmt, section, table, truncate

__all__ = ["summary", "split_section"]

_PATTERNS = 20
_MAX_CONFUSION_TYPES = 20  # wider tables do not render legibly in Markdown viewers


def summary(metrics: dict[str, dict[str, Any]]) -> str:
    """Splits as rows: sentences, strict entity P/R/F1, default-mode F1, macro-F1, token accuracy."""
    headers = ["split", "n", "entity P", "entity R", "entity F1", "F1 (default mode)", "macro-F1", "token accuracy"]
    rows = [[split, m["n"], fmt(m["entity_precision"]), fmt(m["entity_recall"]), fmt(m["entity_f1"]),
             fmt(m.get("default", {}).get("f1")), fmt(m.get("macro_f1")), fmt(m.get("token_accuracy"))]
            for split, m in metrics.items()]
    schemes = sorted({str(m.get("scheme", "?")) for m in metrics.values()})
    note = (f"\n\nEntity scores are micro averages, strict in the {', '.join(schemes)} scheme (an entity counts"
            " only when written validly); 'default mode' is the conlleval-like reading. n = sentences.")
    return table(headers, rows) + note


def split_section(split: str, m: dict[str, Any]) -> str:
    """Everything about one split: per-type scores, unseen tags, error kinds, confusions, patterns."""
    parts = [f"## {escape(split.capitalize())} (n = {m['n']} sentences)", _per_type_section(m)]
    if m.get("unseen_tags"):
        listed = ", ".join(f"{tag} ({count})" for tag, count in m["unseen_tags"].items())
        parts.append(f"Tags never seen in training, counted as missed entities: {escape(listed)}.")
    analysis = m.get("error_analysis")
    if analysis:
        parts.extend([_error_counts_section(analysis), _confusion_section(analysis["confusion"]),
                      _patterns_section(analysis.get("patterns", []))])
    return "\n\n".join(parts)


def _per_type_section(m: dict[str, Any]) -> str:
    strict, default = m.get("strict", {}), m.get("default", {})
    headers = ["type", "precision", "recall", "F1", "F1 (default mode)", "support"]
    rows = [[name, fmt(s["precision"]), fmt(s["recall"]), fmt(s["f1"]),
             fmt(default.get("per_type", {}).get(name, {}).get("f1")), s["support"]]
            for name, s in strict.get("per_type", {}).items()]
    for label, key in (("micro avg", "f1"), ("macro avg", "macro_f1")):
        precision = fmt(strict.get("precision")) if key == "f1" else "-"
        recall = fmt(strict.get("recall")) if key == "f1" else "-"
        rows.append([f"**{label}**", precision, recall, fmt(strict.get(key)), fmt(default.get(key)),
                     strict.get("support", "-")])
    body = table(headers, rows) + f"\n\nToken accuracy: {fmt(m.get('token_accuracy'))}"
    return section("Entities per type (strict)", body, level=3)


def _error_counts_section(analysis: dict[str, Any]) -> str:
    counts = analysis["counts"]
    rows = [[kind.replace("_", " + "), counts[kind]] for kind in counts]
    totals = (f"Gold entities: {fmt(analysis['n_gold'])}; predicted: {fmt(analysis['n_pred'])}; exactly right:"
              f" {fmt(analysis['n_correct'])}; errors: {fmt(analysis['n_errors'])}.")
    legend = ("boundary: right type, wrong span; type: right span, wrong type; boundary + type: both wrong;"
              " missed: no overlapping prediction; spurious: no overlapping gold entity.")
    return section("Error analysis", f"{totals}\n\n{table(['kind', 'count'], rows)}\n\n{legend}", level=3)


def _confusion_section(confusion: dict[str, Any]) -> str:
    labels = confusion["labels"]
    if len(labels) > _MAX_CONFUSION_TYPES + 1:
        body = f"_{len(labels) - 1} entity types: too many for a readable Markdown table._"
    elif not any(any(row) for row in confusion["matrix"]):
        body = "_No entities in gold or predictions._"
    else:
        rows = [[label] + row for label, row in zip(labels, confusion["matrix"])]
        body = table(["gold \\ predicted"] + labels, rows)
        body += "\n\n'none': no entity (missed entities are in the 'none' column, spurious ones in the 'none' row)."
    return section("Entity confusion matrix", body, level=3)


def _entity(entity: dict[str, Any] | None) -> str:
    if entity is None:
        return "none"
    text = entity.get("text")
    return f"{text} ({entity['type']})" if text is not None else entity["type"]


def _patterns_section(patterns: list[dict[str, Any]]) -> str:
    if not patterns:
        return section("Most frequent errors", "_No errors._", level=3)
    rows = [[rank, p["kind"], _entity(p["gold"]), _entity(p["pred"]), p["count"],
             truncate(p["example"].get("text") or f"sentence {p['example']['sentence']}")]
            for rank, p in enumerate(patterns[:_PATTERNS], start=1)]
    body = table(["#", "kind", "gold", "predicted", "count", "example sentence"], rows)
    return section(f"Most frequent errors (top {min(len(patterns), _PATTERNS)})", body, level=3)
