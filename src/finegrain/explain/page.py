"""The explanations as one self-contained HTML page: each input's words shaded by their score toward each
target (green toward it, red against it, the strongest of the target fully coloured), under the faithfulness
table. Nothing is fetched: the page opens from disk.

Example:
    >>> shade(0.5, 1.0)
    'rgba(22, 163, 74, 0.50)'
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape
from typing import Any

from finegrain.explain.explanation import Explanation, TargetScores

__all__ = ["render_page", "shade"]

_STYLE = """body{font:15px/1.6 system-ui,sans-serif;color:#1d2330;max-width:860px;margin:28px auto;padding:0 18px}
table{border-collapse:collapse;margin:8px 0 18px}td,th{border:1px solid #d9dee7;padding:4px 10px;text-align:right}
th:first-child,td:first-child{text-align:left}.card{border:1px solid #d9dee7;border-radius:8px;padding:10px 14px;
margin:12px 0}.target{color:#667085;font-size:13px;margin-top:6px}.words span{border-radius:3px;padding:1px 1px}
.note{color:#8a6100;font-size:13px}.hint{color:#667085;font-size:13px}"""


def shade(score: float, largest: float) -> str:
    """The background of a word: green toward the target, red against it, opacity by its share of the largest."""
    alpha = 0.0 if largest <= 0 else min(1.0, abs(score) / largest)
    colour = "22, 163, 74" if score >= 0 else "220, 38, 38"
    return f"rgba({colour}, {alpha:.2f})"


def _words(explanation: Explanation, target: TargetScores) -> str:
    """The input's texts with each word shaded, the characters between words kept as they were."""
    largest = max((abs(s) for s in target.scores), default=0.0)
    texts = {key: value for key, value in explanation.input.items() if isinstance(value, str)}
    pieces: list[str] = []
    field, at = None, 0
    for index, (word, offsets, name) in enumerate(zip(explanation.words, explanation.offsets, explanation.fields)):
        if name != field:
            if field is not None:
                pieces.append(escape(texts.get(field, "")[at:]) + "<br>")
            field, at = name, 0
        gap = texts[name][at:offsets[0]] if offsets and name in texts else (" " if index else "")
        score = target.scores[index]
        pieces.append(f'{escape(gap)}<span title="{score:+.4f}" style="background:{shade(score, largest)}">'
                      f"{escape(word)}</span>")
        at = offsets[1] if offsets else at
    if field is not None and field in texts:
        pieces.append(escape(texts[field][at:]))
    return "".join(pieces)


def _faithfulness_table(table: dict[str, Any] | None) -> str:
    if not table:
        return ""
    rows = "".join(f"<tr><td>{escape(name)}</td>" + "".join(f"<td>{_number(row.get(key))}</td>" for key in (
        "comprehensiveness", "sufficiency", "kendall_tau", "seconds")) + "</tr>" for name, row in table["rows"].items())
    return (f"<h2>Faithfulness ({table['n']} explanations, words erased by {escape(table['erasure'])})</h2>"
            "<table><tr><th>attributions</th><th>comprehensiveness AOPC ↑</th><th>sufficiency AOPC ↓</th>"
            f"<th>Kendall tau vs leave-one-out</th><th>seconds / explanation</th></tr>{rows}</table>"
            "<p class=hint>Comprehensiveness: how much the target's probability drops when the top-scored words"
            f" ({', '.join(str(p) for p in table['percents'])}%) are erased; sufficiency: how much it drops when only"
            " they are kept. An explanation is worth reading where it beats the random row.</p>"
            + _extremes(table.get("examples")))


def _extremes(examples: dict[str, list[dict[str, Any]]] | None) -> str:
    """Links to the most and least faithful explanations (by comprehensiveness)."""
    if not examples or not examples["most"]:
        return ""
    def links(items: list[dict[str, Any]]) -> str:
        return ", ".join(f'<a href="#input-{item["input"]}">input {item["input"] + 1}, {escape(item["target"])}</a>'
                         f' ({item["comprehensiveness"]:.4f})' for item in items)
    return (f"<p>Most faithful: {links(examples['most'])}.<br>Least faithful: {links(examples['least'])}.</p>")


def _own(target: TargetScores) -> str:
    """This explanation's own faithfulness, where it was measured."""
    numbers = target.faithfulness
    if not numbers:
        return ""
    return (f" · comprehensiveness {_number(numbers['comprehensiveness'])}, sufficiency"
            f" {_number(numbers['sufficiency'])}, Kendall tau {_number(numbers['kendall_tau'])}")


def _number(value: Any) -> str:
    return "–" if value is None else f"{value:.4f}"


def render_page(explanations: Sequence[Explanation], faithfulness: dict[str, Any] | None, title: str) -> str:
    """The page: the faithfulness table, then one card per input with a shaded line per target."""
    cards = []
    for index, explanation in enumerate(explanations):
        lines = [f'<div class=target>{escape(t.name)}{_own(t)}</div><div class=words>{_words(explanation, t)}</div>'
                 for t in explanation.targets]
        notes = "".join(f"<div class=note>{escape(note)}</div>" for note in explanation.notes)
        cards.append(f"<div class=card id=input-{index}>{''.join(lines)}{notes}</div>")
    method = escape(explanations[0].explainer) if explanations else ""
    return (f"<!doctype html><html lang=en><head><meta charset=utf-8><title>{escape(title)}</title>"
            f"<style>{_STYLE}</style></head><body><h1>{escape(title)}</h1><p class=hint>{method}: green words push"
            f" toward the target, red words against it.</p>{_faithfulness_table(faithfulness)}{''.join(cards)}"
            "</body></html>")
