"""Chinese spelling metrics, computed here from (source, target, prediction) triples of strings.

- **Sentence level, strict (SIGHAN)**: a sentence counts for detection only if the predicted changed
  positions are exactly the gold ones, for correction only if the changed characters match too.
  Precision over sentences the system changed, recall over sentences with errors; accuracy over all
  (an unchanged clean sentence is right).
- **Character level** (``char``; ``word`` for English, whose texts come as lists of words): detection over
  changed positions, correction over (position, unit) pairs; the correction rate (wrong units corrected /
  wrong units) and over-correction rate (right units changed / right units) over the same pairs.
- **False-positive rate**: clean sentences the system changed / clean sentences.
- **pycorrector's lenient sentence F1** (``pycorrector/utils/evaluate_utils.py``, ``eval_model_batch``): a
  sentence with errors is a true positive when the prediction equals the target, else a false negative;
  a clean sentence the system changed is a false positive. A wrong correction of a sentence with errors
  is thus never a false positive, which is why it is higher than the strict figure; labelled as such.

A pair whose texts differ in length has no positions to compare: it counts as a sentence with errors
(only an identical prediction would be right) and stays out of the character-level counts.

Example:
    >>> m = spelling_metrics(["我门好"], ["我们好"], ["我们好"])
    >>> m["sentence_correction"]["f1"], m["lenient"]["f1"]
    (1.0, 1.0)
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

import numpy as np

__all__ = ["edits", "spelling_metrics", "sentence_counts", "f1_of_counts", "error_analysis"]


def edits(source: Sequence[str], other: Sequence[str]) -> set[tuple[int, str]] | None:
    """(position, unit) where ``other`` differs from ``source`` (strings: characters; lists: words); None when their
    lengths differ."""
    if len(source) != len(other):
        return None
    return {(i, c) for i, (s, c) in enumerate(zip(source, other)) if s != c}


def _prf(tp: float, predicted: float, gold: float) -> dict[str, float]:
    precision = tp / predicted if predicted else 0.0
    recall = tp / gold if gold else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": precision, "recall": recall, "f1": f1}


def _positions(changes: set[tuple[int, str]]) -> set[int]:
    return {i for i, _ in changes}


def sentence_counts(sources: list[str], targets: list[str], predictions: list[str]) -> np.ndarray:
    """Per sentence (correction tp, changed, with errors): what summed gives the strict sentence correction F1."""
    rows = []
    for source, target, predicted in zip(sources, targets, predictions):
        gold, made = edits(source, target), edits(source, predicted) or set()
        has_errors = gold is None or bool(gold)
        rows.append((float(has_errors and gold == made), float(bool(made)), float(has_errors)))
    return np.array(rows, dtype=np.float64).reshape(-1, 3)


def f1_of_counts(counts: np.ndarray) -> np.ndarray:
    """Strict sentence correction F1 of summed :func:`sentence_counts` (any leading axes)."""
    tp, changed, gold = counts[..., 0], counts[..., 1], counts[..., 2]
    total = changed + gold
    return np.divide(2 * tp, total, out=np.zeros_like(total, dtype=np.float64), where=total > 0)


def _sentence_level(triples: list[tuple[set | None, set]], compare_chars: bool) -> dict[str, float]:
    tp = right = changed = with_errors = 0
    for gold, made in triples:
        key = (lambda e: e) if compare_chars else _positions
        same = gold is not None and key(gold) == key(made)
        has_errors = gold is None or bool(gold)
        right += same
        tp += same and has_errors
        changed += bool(made)
        with_errors += has_errors
    return {"accuracy": right / len(triples) if triples else 0.0, **_prf(tp, changed, with_errors)}


def _unit_level(triples: list[tuple[set | None, set]]) -> dict[str, dict[str, float]]:
    comparable = [(gold, made) for gold, made in triples if gold is not None]
    detect_tp = sum(len(_positions(g) & _positions(m)) for g, m in comparable)
    correct_tp = sum(len(g & m) for g, m in comparable)
    made, gold = sum(len(m) for _, m in comparable), sum(len(g) for g, _ in comparable)
    return {"detection": _prf(detect_tp, made, gold), "correction": _prf(correct_tp, made, gold)}


def _rates(sources: Sequence[Sequence[str]], triples: list[tuple[set | None, set]]) -> tuple[float, float]:
    """(wrong units corrected / wrong units, right units changed / right units), over pairs of equal length."""
    fixed = wrong = changed = right = 0
    for source, (gold, made) in zip(sources, triples):
        if gold is None:
            continue
        wrong_positions = _positions(gold)
        fixed += len(gold & made)
        wrong += len(gold)
        changed += len(_positions(made) - wrong_positions)
        right += len(source) - len(wrong_positions)
    return (fixed / wrong if wrong else 0.0), (changed / right if right else 0.0)


def _lenient(sources: list[str], targets: list[str], predictions: list[str]) -> dict[str, float]:
    """pycorrector's ``eval_model_batch``, its zero conventions included."""
    tp = fp = fn = tn = 0
    for source, target, predicted in zip(sources, targets, predictions):
        if source == target:
            tn, fp = (tn + 1, fp) if predicted == target else (tn, fp + 1)
        else:
            tp, fn = (tp + 1, fn) if predicted == target else (tp, fn + 1)
    precision = tp / (tp + fp) if tp > 0 else 0.0
    recall = tp / (tp + fn) if tp > 0 else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    total = tp + fp + fn + tn
    return {"accuracy": (tp + tn) / total if total else 0.0, "precision": precision, "recall": recall, "f1": f1}


def spelling_metrics(sources: Sequence[Sequence[str]], targets: Sequence[Sequence[str]],
                     predictions: Sequence[Sequence[str]], unit: str = "char") -> dict[str, Any]:
    """Every metric of the module docstring, JSON-ready; ``correction_f1`` is the headline (strict). The texts are
    strings (``unit`` "char") or lists of words (``unit`` "word"): the unit-level scores go under that key."""
    triples = [(edits(s, t), edits(s, p) or set()) for s, t, p in zip(sources, targets, predictions)]
    clean = [made for gold, made in triples if gold is not None and not gold]
    correction = _sentence_level(triples, compare_chars=True)
    correction_rate, over_correction_rate = _rates(sources, triples)
    return {
        "n": len(sources),
        "correction_f1": correction["f1"],
        "sentence_detection": _sentence_level(triples, compare_chars=False),
        "sentence_correction": correction,
        unit: _unit_level(triples),
        "correction_rate": correction_rate,
        "over_correction_rate": over_correction_rate,
        "false_positive_rate": sum(bool(m) for m in clean) / len(clean) if clean else 0.0,
        "lenient": _lenient(sources, targets, predictions),
        "sentences_with_errors": sum(gold is None or bool(gold) for gold, _ in triples),
        "unequal_pairs": sum(gold is None for gold, _ in triples),
    }


def error_analysis(sources: list[str], targets: list[str], predictions: list[str], kind, top: int = 10
                   ) -> dict[str, Any]:
    """The most frequent missed corrections (gold changes not made) and spurious ones (changes not in the gold),
    each ``original -> correction`` with its count and ``kind(original, correction)`` (same pronunciation ...);
    ``by_kind``: all of them counted by kind."""
    missed: Counter = Counter()
    spurious: Counter = Counter()
    for source, target, predicted in zip(sources, targets, predictions):
        gold, made = edits(source, target), edits(source, predicted) or set()
        if gold is None:
            continue
        missed.update((source[i], c) for i, c in gold - made)
        spurious.update((source[i], c) for i, c in made - gold)
    result: dict[str, Any] = {name: [{"original": o, "correction": c, "count": n, "kind": kind(o, c)}
                                     for (o, c), n in counter.most_common(top)]
                              for name, counter in (("missed", missed), ("spurious", spurious))}
    result["by_kind"] = {name: dict(sum((Counter({kind(o, c): n}) for (o, c), n in counter.items()), Counter()))
                         for name, counter in (("missed", missed), ("spurious", spurious))}
    return result
