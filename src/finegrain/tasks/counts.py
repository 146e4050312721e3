"""F1 from summed per-example counts, vectorised over leading axes: how the built-in tasks turn their
``example_counts`` back into their headline metric (``StudyView.score_counts``), so that studies can
recompute it on any bootstrap resample.

Example:
    >>> counts = np.array([[1, 0, 0], [0, 1, 1], [1, 0, 0], [1, 0, 0]], dtype=float)  # tp, fp, fn
    >>> round(float(micro_f1(counts.sum(0))), 3)
    0.857
"""

from __future__ import annotations

import numpy as np

__all__ = ["micro_f1", "macro_f1"]


def micro_f1(sums: np.ndarray) -> np.ndarray:
    """F1 from summed (tp, fp, fn) in the last axis; 0 where nothing was gold or predicted."""
    tp, fp, fn = sums[..., 0], sums[..., 1], sums[..., 2]
    denominator = 2 * tp + fp + fn
    return np.divide(2 * tp, denominator, out=np.zeros_like(denominator, dtype=float), where=denominator > 0)


def macro_f1(sums: np.ndarray) -> np.ndarray:
    """Mean per-class F1 from summed counts laid out as ``[tp_0..tp_C, fp_0..fp_C, fn_0..fn_C]``.

    Every class counts (a class never gold nor predicted scores 0), as in the run metrics.
    """
    n_classes = sums.shape[-1] // 3
    per_class = micro_f1(np.stack([sums[..., :n_classes], sums[..., n_classes:2 * n_classes],
                                   sums[..., 2 * n_classes:]], axis=-1))
    return per_class.mean(axis=-1)
