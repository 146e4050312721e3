"""Confidence intervals and paired tests from per-example counts, by bootstrap.

A cell's predictions on the test set are kept as per-example count vectors from which the
task's headline metric is recomputed on any resample: for classification ``tp``, ``fp`` and
``fn`` of every class (macro F1), for NER the example's entity ``tp``, ``fp``, ``fn`` (micro F1).

Uncertainty has two sources, the test sample and the training seed, so the bootstrap is
hierarchical: each replicate draws test examples with replacement (the same draw for every
seed and method, which keeps comparisons paired) and draws seeds with replacement, then
averages the metric over the drawn seeds.

Example:
    >>> counts = np.array([[1, 0, 0], [0, 1, 1], [1, 0, 0], [1, 0, 0]], dtype=float)  # tp, fp, fn
    >>> round(float(micro_f1(counts.sum(0))), 3)
    0.857
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

__all__ = ["micro_f1", "macro_f1", "Interval", "seed_interval", "paired_test", "bootstrap_weights"]

Metric = Callable[[np.ndarray], np.ndarray]
REPLICATES = 1000


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


@dataclass(frozen=True)
class Interval:
    mean: float  # mean over seeds of the metric on the whole test set
    std: float  # standard deviation over seeds (0 with one seed)
    low: float  # 2.5th percentile of the hierarchical bootstrap
    high: float  # 97.5th percentile
    per_seed: tuple[float, ...]


def bootstrap_weights(n_examples: int, seed: int = 0, replicates: int = REPLICATES) -> np.ndarray:
    """How often each test example is drawn in each replicate: an int32 array (replicates, n)."""
    rng = np.random.default_rng(seed)
    draws = rng.integers(0, n_examples, size=(replicates, n_examples))
    weights = np.zeros((replicates, n_examples), dtype=np.int32)
    np.add.at(weights, (np.arange(replicates)[:, None], draws), 1)
    return weights


def _replicate_scores(per_seed: list[np.ndarray], metric: Metric, weights: np.ndarray) -> np.ndarray:
    """(seeds, replicates) metric of each seed's counts under each test resample."""
    return np.stack([metric(weights @ counts) for counts in per_seed])


def _seed_draws(n_seeds: int, replicates: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed + 1).integers(0, n_seeds, size=(replicates, n_seeds))


def seed_interval(per_seed: list[np.ndarray], metric: Metric, weights: np.ndarray, seed: int = 0) -> Interval:
    """Mean, std and 95% bootstrap interval of the metric over seeds and test examples."""
    points = np.array([float(metric(counts.sum(0))) for counts in per_seed])
    scores = _replicate_scores(per_seed, metric, weights)
    draws = _seed_draws(len(per_seed), weights.shape[0], seed)
    replicate_means = scores[draws, np.arange(weights.shape[0])[:, None]].mean(axis=1)
    low, high = np.percentile(replicate_means, [2.5, 97.5])
    std = float(points.std(ddof=1)) if len(points) > 1 else 0.0
    return Interval(float(points.mean()), std, float(low), float(high), tuple(float(p) for p in points))


def paired_test(first: list[np.ndarray], second: list[np.ndarray], metric: Metric, weights: np.ndarray,
                seed: int = 0) -> tuple[float, float]:
    """(mean difference first - second, two-sided p-value) by paired hierarchical bootstrap.

    ``first[i]`` and ``second[i]`` must come from the same seed (the same training sample) and the
    same test examples. The p-value is twice the share of replicates whose difference falls on
    the other side of zero (at least 1/replicates, as a bootstrap cannot resolve less).
    """
    if len(first) != len(second):
        raise ValueError("paired_test needs the same seeds on both sides")
    difference = float(np.mean([metric(a.sum(0)) - metric(b.sum(0)) for a, b in zip(first, second)]))
    gaps = _replicate_scores(first, metric, weights) - _replicate_scores(second, metric, weights)
    draws = _seed_draws(len(first), weights.shape[0], seed)
    replicate_gaps = gaps[draws, np.arange(weights.shape[0])[:, None]].mean(axis=1)
    tail = min(np.mean(replicate_gaps <= 0), np.mean(replicate_gaps >= 0))
    return difference, float(min(1.0, max(2 * tail, 1 / weights.shape[0])))
