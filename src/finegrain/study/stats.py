"""Confidence intervals and paired tests from per-example counts, by bootstrap.

A cell's predictions on the test set are kept as per-example count vectors (the task's
``example_counts``) from which the task's headline metric is recomputed on any resample (its
``study.score_counts``).

Uncertainty has two sources, the test sample and the training seed, so the bootstrap is
hierarchical: each replicate draws test examples with replacement (the same draw for every
seed and method, which keeps comparisons paired) and draws seeds with replacement, then
averages the metric over the drawn seeds.

Example:
    >>> accuracy = lambda sums: sums[..., 0] / sums[..., 1]  # counts: (correct, 1) per example
    >>> per_seed = [np.array([[1, 1], [0, 1], [1, 1], [1, 1]], dtype=float)] * 2
    >>> seed_interval(per_seed, accuracy, bootstrap_weights(4)).mean
    0.75
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

__all__ = ["Interval", "seed_interval", "paired_test", "bootstrap_weights"]

Metric = Callable[[np.ndarray], np.ndarray]
REPLICATES = 1000


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
