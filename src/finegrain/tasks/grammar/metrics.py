"""Grammatical error correction metrics, computed here from (source, target, prediction) triples of strings.

- **Edit level (strict), the headline**: the edits of (source -> target) and of (source -> prediction), each
  from our word alignment (:func:`finegrain.tasks.grammar.alignment.word_edits`); a predicted edit is right
  when the same (start, end, replacement) is in the gold. Precision, recall and F0.5 (precision counts twice
  as much as recall, as in CoNLL-2014 and BEA-2019) from the summed counts. Like the M2 scorer, but with
  our alignment rather than ERRANT's linguistically informed one: figures are close, not identical.
- **Sentence level**: exact match (the prediction's words are the target's), over all sentences.
- **Error analysis**: edits by type (replace, insert, delete) as right, missed and spurious, and the most
  frequent missed and spurious edits.

Example:
    >>> m = grammar_metrics(["He go home"], ["He goes home"], ["He goes home"])
    >>> m["f0_5"], m["exact_match"]
    (1.0, 1.0)
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import numpy as np

from finegrain.tasks.grammar.alignment import Edit, word_edits
from finegrain.tasks.spelling.words import words

__all__ = ["edit_counts", "f05_of_counts", "grammar_metrics", "error_analysis", "edit_type", "BETA"]

BETA = 0.5  # F0.5: a wrong correction costs a learner more than a missed one (CoNLL-2014, BEA-2019)


def edit_type(edit: Edit) -> str:
    start, end, replacement = edit
    return "insert" if start == end else "delete" if not replacement else "replace"


def _edits(source: str, other: str) -> set[Edit]:
    return set(word_edits(words(source), words(other)))


def edit_counts(sources: list[str], targets: list[str], predictions: list[str]) -> np.ndarray:
    """Per sentence (right edits, predicted edits, gold edits, exact match): summed, they give F0.5."""
    rows = []
    for source, target, predicted in zip(sources, targets, predictions):
        gold, made = _edits(source, target), _edits(source, predicted)
        rows.append((len(gold & made), len(made), len(gold), float(words(predicted) == words(target))))
    return np.array(rows, dtype=np.float64).reshape(-1, 4)


def f05_of_counts(counts: np.ndarray) -> np.ndarray:
    """Edit F0.5 of summed :func:`edit_counts` (any leading axes); 0 where nothing is right."""
    tp, predicted, gold = counts[..., 0], counts[..., 1], counts[..., 2]
    denominator = (1 + BETA ** 2) * tp + BETA ** 2 * (gold - tp) + (predicted - tp)
    return np.divide((1 + BETA ** 2) * tp, denominator, out=np.zeros_like(denominator, dtype=np.float64),
                     where=denominator > 0)


def _scores(tp: float, predicted: float, gold: float) -> dict[str, float]:
    precision = tp / predicted if predicted else 0.0
    recall = tp / gold if gold else 0.0
    f05 = float(f05_of_counts(np.array([tp, predicted, gold, 0.0])))
    return {"precision": precision, "recall": recall, "f0_5": f05}


def grammar_metrics(sources: list[str], targets: list[str], predictions: list[str]) -> dict[str, Any]:
    """Every metric of the module docstring, JSON-ready; ``f0_5`` is the headline."""
    counts = edit_counts(sources, targets, predictions)
    tp, predicted, gold, exact = (float(value) for value in counts.sum(axis=0))
    scores = _scores(tp, predicted, gold)
    return {"n": len(sources), **scores, "exact_match": exact / len(sources) if len(sources) else 0.0,
            "edits": {"right": int(tp), "predicted": int(predicted), "gold": int(gold)},
            "sentences_with_errors": int(sum(words(s) != words(t) for s, t in zip(sources, targets)))}


def _shown(source: str, edit: Edit) -> tuple[str, str]:
    start, end, replacement = edit
    source_words = words(source)
    if start == end:  # an insertion: shown after the word before it
        before = source_words[start - 1] if start else "^"
        return before, f"{before} {' '.join(replacement)}"
    return " ".join(source_words[start:end]), " ".join(replacement) or "(deleted)"


def error_analysis(sources: list[str], targets: list[str], predictions: list[str], top: int = 10) -> dict[str, Any]:
    """``by_type``: per edit type, right, missed and spurious counts; ``missed``/``spurious``: the most frequent
    such edits (``original -> correction``, with their count and type)."""
    by_type: dict[str, Counter] = {name: Counter() for name in ("right", "missed", "spurious")}
    shown: dict[str, Counter] = {"missed": Counter(), "spurious": Counter()}
    for source, target, predicted in zip(sources, targets, predictions):
        gold, made = _edits(source, target), _edits(source, predicted)
        for name, edits in (("right", gold & made), ("missed", gold - made), ("spurious", made - gold)):
            by_type[name].update(edit_type(e) for e in edits)
            if name in shown:
                shown[name].update((*_shown(source, e), edit_type(e)) for e in edits)
    result: dict[str, Any] = {name: [{"original": o, "correction": c, "type": t, "count": n}
                                     for (o, c, t), n in counter.most_common(top)]
                              for name, counter in shown.items()}
    result["by_type"] = {name: dict(counter) for name, counter in by_type.items()}
    return result
