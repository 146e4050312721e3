"""The robustness figures, from hand-countable facts: failure rates of the tests and the summary of an attack
(TextAttack's: success rate over the inputs predicted correctly, accuracy under attack over all inputs, share of
words perturbed over the successful attacks, queries per attacked input).

Example:
    >>> rate(1, 4), rate(0, 0)
    (0.25, None)
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from finegrain.robustness.attacks import AttackResult

__all__ = ["rate", "attack_summary", "shown", "EXAMPLES"]

EXAMPLES = 5  # failures kept per test or attack for the report


def rate(failures: int, total: int) -> float | None:
    """failures / total, rounded; None when nothing was tested."""
    return round(failures / total, 6) if total else None


def shown(prediction: dict[str, Any]) -> str:
    """A prediction in a few words: its label(s), or its tags."""
    if "labels" in prediction:
        return "|".join(prediction["labels"]) or "(none)"
    if "label" in prediction:
        return str(prediction["label"])
    return " ".join(prediction.get("tags", []))


def attack_summary(results: Sequence[AttackResult], total: int) -> dict[str, Any]:
    """The figures of one attack on ``total`` inputs, of which ``results`` (the correct ones) were attacked."""
    successes = [r for r in results if r.success]
    return {
        "inputs": total,
        "attacked": len(results),
        "successes": len(successes),
        "success_rate": rate(len(successes), len(results)),
        "accuracy_before": rate(len(results), total),
        "accuracy_under_attack": rate(len(results) - len(successes), total),
        "perturbed_word_share": round(float(np.mean([r.changed / r.words for r in successes])), 6)
        if successes else None,
        "queries_per_attack": round(float(np.mean([r.queries for r in results])), 2) if results else None,
        "examples": [{"row": r.row + 1, "original": r.original, "adversarial": r.adversarial,
                      "before": shown(r.before), "after": shown(r.after), "changed": r.changed}
                     for r in successes[:EXAMPLES]],
    }
