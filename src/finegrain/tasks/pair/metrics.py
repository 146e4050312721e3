"""The metrics pair classification adds to the classification ones: ROC-AUC, and for two classes the F1 of
the positive class at a decision threshold chosen on validation.

Matching systems rank candidates by a score and cut at a threshold, so a pair model is judged by how well
its score ranks (ROC-AUC, threshold-free) and by its F1 where the cut is best, not only at the argmax.
Everything returned is plain Python (floats, dicts), ready for ``json.dump``.

Example:
    >>> import numpy as np
    >>> gold, scores = np.array([False, True, True]), np.array([0.2, 0.4, 0.9])
    >>> best_threshold(gold, scores), f1_at(gold, scores, 0.4)["f1"]
    (0.4, 1.0)
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.metrics import precision_recall_curve, precision_recall_fscore_support, roc_auc_score

__all__ = ["macro_roc_auc", "best_threshold", "f1_at"]


def macro_roc_auc(targets: np.ndarray, probs: np.ndarray) -> float | None:
    """The mean one-vs-rest ROC-AUC over the classes that have both positives and negatives in ``targets``
    (class ids) scored by their column of ``probs``; two classes: the AUC of either class's probability.
    None when no class has both (one class only)."""
    scores = [roc_auc_score(targets == c, probs[:, c]) for c in range(probs.shape[1])
              if 0 < int((targets == c).sum()) < len(targets)]
    return float(np.mean(scores)) if scores else None


def best_threshold(gold: np.ndarray, scores: np.ndarray) -> float | None:
    """The threshold on ``scores`` (predict positive at or above it) with the best F1 of the positives
    ``gold``; the lowest such threshold on a tie. None without a positive example."""
    if not gold.any():
        return None
    precision, recall, thresholds = precision_recall_curve(gold, scores)
    precision, recall = precision[:-1], recall[:-1]  # the last point (recall 0) has no threshold
    total = precision + recall
    f1 = np.divide(2 * precision * recall, total, out=np.zeros_like(total), where=total > 0)
    return float(thresholds[int(np.argmax(f1))])


def f1_at(gold: np.ndarray, scores: np.ndarray, threshold: float) -> dict[str, Any]:
    """F1, precision and recall of the positives ``gold`` when ``scores`` at or above ``threshold`` are
    predicted positive."""
    precision, recall, f1, _ = precision_recall_fscore_support(gold, scores >= threshold, average="binary",
                                                               zero_division=0)
    return {"f1": float(f1), "precision": float(precision), "recall": float(recall)}
