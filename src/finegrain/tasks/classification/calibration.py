"""Expected calibration error (ECE) and the reliability bins behind it.

A classifier is calibrated when, among predictions made with confidence ~0.8, about 80% are
right. ECE measures the gap: predictions are grouped into equal-width confidence bins over
[0, 1], and ECE = sum over bins of (n_b / N) * |accuracy_b - confidence_b|. The bins are
returned too, so a report can draw the reliability diagram from the same numbers.

Example:
    >>> import numpy as np
    >>> ece, bins = expected_calibration_error(np.array([0.9, 0.9]), np.array([True, False]), n_bins=10)
    >>> round(ece, 2), bins[8]["count"]
    (0.4, 2)
"""

from __future__ import annotations

from typing import Any

import numpy as np

from finegrain.errors import DataError

__all__ = ["expected_calibration_error", "ece_from_bins"]

# Softmax/sigmoid outputs can overshoot [0, 1] by float rounding; anything beyond this is a bug.
_TOLERANCE = 1e-6


def expected_calibration_error(
    confidence: np.ndarray, correct: np.ndarray, n_bins: int = 15
) -> tuple[float, list[dict[str, Any]]]:
    """Return (ECE, bins) for predictions made with ``confidence`` that were ``correct``.

    Bins are right-closed, ``(lower, upper]``, except the first, which also holds confidence 0.
    Each bin is ``{lower, upper, count, accuracy, confidence}``; an empty bin has count 0 and
    ``None`` for accuracy and confidence (JSON ``null``), so it is not mistaken for a 0% bin.
    For single-label classification pass the top-label probability as ``confidence``.
    """
    confidence, correct = _check_calibration_inputs(confidence, correct, n_bins)
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    # searchsorted against the same edges we report keeps bin membership and labels consistent.
    bin_index = np.clip(np.searchsorted(edges, confidence, side="left") - 1, 0, n_bins - 1)
    total = len(confidence)
    bins: list[dict[str, Any]] = []
    ece = 0.0
    for b in range(n_bins):
        in_bin = bin_index == b
        count = int(in_bin.sum())
        bin_record: dict[str, Any] = {
            "lower": float(edges[b]),
            "upper": float(edges[b + 1]),
            "count": count,
            "accuracy": None,
            "confidence": None,
        }
        if count:
            accuracy = float(correct[in_bin].mean())
            mean_confidence = float(confidence[in_bin].mean())
            bin_record.update(accuracy=accuracy, confidence=mean_confidence)
            ece += count / total * abs(accuracy - mean_confidence)
        bins.append(bin_record)
    return float(ece), bins


def ece_from_bins(bins: list[dict[str, Any]]) -> float:
    """Recompute ECE from reliability bins (e.g. bins read back from a metrics JSON file)."""
    total = sum(b["count"] for b in bins)
    if total == 0:
        return 0.0
    return float(
        sum(b["count"] / total * abs(b["accuracy"] - b["confidence"]) for b in bins if b["count"])
    )


def _check_calibration_inputs(
    confidence: np.ndarray, correct: np.ndarray, n_bins: int
) -> tuple[np.ndarray, np.ndarray]:
    """Validate shapes and ranges; clip float overshoot; return float confidence, float correct."""
    confidence = np.asarray(confidence, dtype=float).reshape(-1)
    correct = np.asarray(correct, dtype=float).reshape(-1)
    if n_bins < 1:
        raise DataError(f"n_bins must be a positive integer, got {n_bins}.", hint="Use e.g. n_bins=15.")
    if confidence.shape != correct.shape:
        raise DataError(
            f"confidence and correct must have the same length, got {len(confidence)} and {len(correct)}.",
            hint="Pass one confidence and one correctness flag per prediction.",
        )
    if confidence.size and (
        not np.isfinite(confidence).all()
        or confidence.min() < -_TOLERANCE
        or confidence.max() > 1 + _TOLERANCE
    ):
        raise DataError(
            "confidence must be probabilities in [0, 1], "
            f"found values in [{confidence.min():.4g}, {confidence.max():.4g}].",
            hint="Apply softmax (single-label) or sigmoid (multi-label) to the logits first.",
        )
    return np.clip(confidence, 0.0, 1.0), correct
