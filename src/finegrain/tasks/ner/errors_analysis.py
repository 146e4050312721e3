"""Entity error analysis: what kind of mistake each wrong entity is, and which ones repeat.

F1 says how many entities are wrong, not why. Every error is classified by comparing gold and
predicted spans within a sentence:

- ``type``: same span, different type;
- ``boundary``: overlapping, different span, same type;
- ``boundary_type``: overlapping, different span and type;
- ``missed``: a gold entity that no prediction overlaps;
- ``spurious``: a prediction that overlaps no gold entity.

Each overlapping (gold, predicted) pair that is not an exact-span match is one error, so a gold
entity predicted in two pieces gives two boundary errors.

Example:
    >>> report = analyse_errors([["B-PER", "I-PER", "O"]], [["B-PER", "O", "B-LOC"]], "IOB2")
    >>> report["counts"]
    {'boundary': 1, 'type': 0, 'boundary_type': 0, 'missed': 0, 'spurious': 1}
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

from finegrain.tasks.ner.schemes import Span, to_spans

__all__ = ["ERROR_KINDS", "NONE", "analyse_errors"]

ERROR_KINDS = ("boundary", "type", "boundary_type", "missed", "spurious")
NONE = "none"
"""The confusion-matrix label for 'no entity' (missed: predicted none; spurious: gold none)."""

_Error = dict[str, Any]
_Found = tuple[str, Span | None, Span | None]


def _overlaps(a: Span, b: Span) -> bool:
    return a[1] < b[2] and b[1] < a[2]


def _sentence_errors(gold: list[Span], pred: list[Span]) -> tuple[list[tuple[str, str]], list[_Found]]:
    """(gold type, pred type) pairs for the confusion matrix, and (kind, gold, pred) errors."""
    pairs: list[tuple[str, str]] = []
    errors: list[_Found] = []
    pred_by_range = {(p[1], p[2]): p for p in pred}
    exact_ranges = {(g[1], g[2]) for g in gold} & set(pred_by_range)
    for g in gold:
        if (g[1], g[2]) in exact_ranges:
            p = pred_by_range[(g[1], g[2])]
            pairs.append((g[0], p[0]))
            if p[0] != g[0]:
                errors.append(("type", g, p))
            continue
        partners = [p for p in pred if (p[1], p[2]) not in exact_ranges and _overlaps(g, p)]
        if not partners:
            pairs.append((g[0], NONE))
            errors.append(("missed", g, None))
        for p in partners:
            pairs.append((g[0], p[0]))
            errors.append(("boundary" if p[0] == g[0] else "boundary_type", g, p))
    for p in pred:
        if not any(_overlaps(g, p) for g in gold):
            pairs.append((NONE, p[0]))
            errors.append(("spurious", None, p))
    return pairs, errors


def _describe(span: Span | None, tokens: Sequence[str] | None) -> dict[str, Any] | None:
    if span is None:
        return None
    entity_type, start, end = span
    described: dict[str, Any] = {"type": entity_type, "start": start, "end": end}
    if tokens is not None:
        described["text"] = " ".join(tokens[start:end])
    return described


def _pattern_key(kind: str, gold: dict | None, pred: dict | None) -> tuple:
    def part(entity: dict | None) -> tuple:
        return (None, None) if entity is None else (entity.get("text"), entity["type"])

    return (kind, *part(gold), *part(pred))


def _confusion(pairs: Counter) -> dict[str, Any]:
    types = sorted({t for pair in pairs for t in pair} - {NONE})
    labels = types + [NONE]
    matrix = [[pairs.get((gold, pred), 0) for pred in labels] for gold in labels]
    return {"labels": labels, "matrix": matrix, "rows": "gold", "columns": "predicted"}


def _patterns(records: list[_Error], k: int) -> list[dict[str, Any]]:
    """The ``k`` most frequent (kind, gold text/type, pred text/type) patterns, each with its first example."""
    counts: Counter = Counter()
    first: dict[tuple, _Error] = {}
    for record in records:
        key = _pattern_key(record["kind"], record["gold"], record["pred"])
        counts[key] += 1
        first.setdefault(key, record)
    return [
        {"kind": key[0], "gold": first[key]["gold"], "pred": first[key]["pred"], "count": count,
         "example": {"sentence": first[key]["sentence"], "text": first[key]["text"]}}
        for key, count in counts.most_common(k)
    ]


def _check_inputs(gold_seqs: Sequence, pred_seqs: Sequence, tokens: Sequence | None) -> None:
    if len(gold_seqs) != len(pred_seqs) or (tokens is not None and len(tokens) != len(gold_seqs)):
        sizes = f"{len(gold_seqs)} gold, {len(pred_seqs)} predicted"
        if tokens is not None:
            sizes += f", {len(tokens)} token lists"
        raise ValueError(f"sentence counts differ: {sizes}")


def analyse_errors(
    gold_seqs: Sequence[Sequence[str]], pred_seqs: Sequence[Sequence[str]], scheme: str,
    tokens: Sequence[Sequence[str]] | None = None, k: int = 20,
) -> dict[str, Any]:
    """Classify every entity error (see the module docstring); JSON-serialisable.

    Returns ``counts`` per kind, ``by_type`` (type -> kind -> count; the gold type, or the
    predicted type for spurious errors), ``confusion`` (gold type x predicted type including
    "none": exact-span matches and type errors, boundary errors under their two types, missed in
    the "none" column, spurious in the "none" row), ``patterns`` (the ``k`` most frequent with
    an example sentence), ``examples`` (up to ``k`` per kind) and totals ``n_gold``, ``n_pred``,
    ``n_correct``, ``n_errors``.
    """
    _check_inputs(gold_seqs, pred_seqs, tokens)
    pairs: Counter = Counter()
    records: list[_Error] = []
    n_gold = n_pred = 0
    for index, (gold_tags, pred_tags) in enumerate(zip(gold_seqs, pred_seqs)):
        gold, pred = to_spans(gold_tags, scheme), to_spans(pred_tags, scheme)
        n_gold, n_pred = n_gold + len(gold), n_pred + len(pred)
        sentence_pairs, errors = _sentence_errors(gold, pred)
        pairs.update(sentence_pairs)
        words = tokens[index] if tokens is not None else None
        for kind, g, p in errors:
            records.append({"kind": kind, "sentence": index, "gold": _describe(g, words),
                            "pred": _describe(p, words), "text": " ".join(words) if words is not None else None})
    return _summary(records, pairs, n_gold, n_pred, k)


def _summary(records: list[_Error], pairs: Counter, n_gold: int, n_pred: int, k: int) -> dict[str, Any]:
    counts = Counter(record["kind"] for record in records)
    by_type: dict[str, dict[str, int]] = {}
    for record in records:
        entity_type = (record["gold"] or record["pred"])["type"]
        by_type.setdefault(entity_type, dict.fromkeys(ERROR_KINDS, 0))[record["kind"]] += 1
    examples = [record for kind in ERROR_KINDS for record in [r for r in records if r["kind"] == kind][:k]]
    n_correct = sum(count for (gold, pred), count in pairs.items() if gold == pred) - counts["boundary"]
    return {
        "counts": {kind: counts.get(kind, 0) for kind in ERROR_KINDS},
        "by_type": dict(sorted(by_type.items())),
        "confusion": _confusion(pairs),
        "patterns": _patterns(records, k),
        "examples": examples,
        "n_gold": n_gold,
        "n_pred": n_pred,
        "n_correct": n_correct,
        "n_errors": len(records),
    }
