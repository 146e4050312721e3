"""Classification metrics, error examples and confusion pairs, computed by scikit-learn.

Everything returned is plain Python (floats, ints, lists, dicts), so a metrics dict can be
written with ``json.dump`` as is and read back by the report and the CLI tables.

Example:
    >>> import numpy as np
    >>> probs = np.array([[0.9, 0.1], [0.2, 0.8], [0.6, 0.4]])
    >>> m = classification_metrics(np.array([0, 1, 1]), probs, ["neg", "pos"])
    >>> round(m["accuracy"], 3), m["confusion_matrix"]["matrix"]
    (0.667, [[1, 0], [1, 1]])
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.metrics import (
    accuracy_score,
    confusion_matrix,
    hamming_loss,
    multilabel_confusion_matrix,
    precision_recall_fscore_support,
)

from finegrain.errors import DataError
from finegrain.tasks.classification.calibration import expected_calibration_error

__all__ = ["classification_metrics", "error_examples", "most_confused"]


def classification_metrics(
    y_true: np.ndarray,
    probs: np.ndarray,
    label_names: list[str],
    *,
    multi_label: bool = False,
    threshold: float = 0.5,
) -> dict[str, Any]:
    """Score predicted probabilities against gold labels.

    Single-label: ``y_true`` holds class ids (N,), ``probs`` softmax rows (N, C), and the
    prediction is the argmax. Multi-label: ``y_true`` is multi-hot (N, C), ``probs`` sigmoid
    outputs, and a label is predicted when its probability is >= ``threshold``.

    Keys, both modes: ``multi_label, n, accuracy, macro_/micro_/weighted_ precision, recall,
    f1, per_class, confusion_matrix, ece, calibration``. Multi-label adds ``hamming_loss`` and
    ``per_label_ece``; there ``accuracy`` is subset (exact-match) accuracy, ``confusion_matrix``
    is ``{"labels", "per_class": {name: [[tn, fp], [fn, tp]]}}``, ``ece`` the mean of the
    per-label ECEs, and ``calibration`` the bins pooled over every (example, label) pair.
    Every name in ``label_names`` appears in ``per_class``, even when absent from ``y_true``.
    """
    y_true, probs = _check_inputs(y_true, probs, label_names, multi_label)
    if multi_label:
        return _multi_label_metrics(y_true, probs, list(label_names), threshold)
    return _single_label_metrics(y_true, probs, list(label_names))


def error_examples(
    texts: list[str],
    y_true: np.ndarray,
    probs: np.ndarray,
    label_names: list[str],
    *,
    k: int = 20,
) -> list[dict[str, Any]]:
    """Return the ``k`` most confident single-label mistakes, most confident first.

    Confident mistakes are the most useful to read: they point at label noise, ambiguous
    classes or shortcuts the model learned. Each item is
    ``{index, text, gold, predicted, confidence}`` with label names, not ids.
    """
    y_true, probs = _check_inputs(y_true, probs, label_names, multi_label=False)
    if len(texts) != len(y_true):
        raise DataError(
            f"Expected one text per example ({len(y_true)}), got {len(texts)} texts.",
            hint="Pass the texts of the same split, in the same order as y_true and probs.",
        )
    predicted = probs.argmax(axis=1)
    confidence = probs.max(axis=1)
    wrong = np.flatnonzero(predicted != y_true)
    # Stable sort on negated confidence: ties keep dataset order, so output is reproducible.
    ordered = wrong[np.argsort(-confidence[wrong], kind="stable")][: max(k, 0)]
    return [
        {
            "index": int(i),
            "text": str(texts[i]),
            "gold": label_names[int(y_true[i])],
            "predicted": label_names[int(predicted[i])],
            "confidence": float(confidence[i]),
        }
        for i in ordered
    ]


def most_confused(confusion: dict[str, Any], k: int = 10) -> list[dict[str, Any]]:
    """Return the ``k`` largest off-diagonal cells of a single-label confusion matrix.

    ``confusion`` is the ``confusion_matrix`` entry of :func:`classification_metrics`. Items
    are ``{gold, predicted, count}``, largest count first; zero cells are left out. A
    multi-label confusion (per-class 2x2 counts) has no gold/predicted pairs: it gives ``[]``.
    """
    if "matrix" not in confusion:
        return []
    labels = confusion["labels"]
    cells = [
        (count, gold, predicted)
        for gold, row in enumerate(confusion["matrix"])
        for predicted, count in enumerate(row)
        if gold != predicted and count > 0
    ]
    cells.sort(key=lambda cell: (-cell[0], cell[1], cell[2]))
    return [
        {"gold": labels[gold], "predicted": labels[predicted], "count": int(count)}
        for count, gold, predicted in cells[: max(k, 0)]
    ]


def _single_label_metrics(y_true: np.ndarray, probs: np.ndarray, names: list[str]) -> dict[str, Any]:
    """Metrics for argmax predictions; calibration uses the top-label confidence."""
    labels = list(range(len(names)))
    predicted = probs.argmax(axis=1)
    ece, bins = expected_calibration_error(probs.max(axis=1), predicted == y_true)
    return {
        "multi_label": False,
        "n": int(len(y_true)),
        "accuracy": float(accuracy_score(y_true, predicted)),
        **_averaged_scores(y_true, predicted, labels),
        "per_class": _per_class_scores(y_true, predicted, labels, names),
        "confusion_matrix": {
            "labels": names,
            "matrix": confusion_matrix(y_true, predicted, labels=labels).tolist(),
        },
        "ece": ece,
        "calibration": bins,
    }


def _multi_label_metrics(
    y_true: np.ndarray, probs: np.ndarray, names: list[str], threshold: float
) -> dict[str, Any]:
    """Metrics for thresholded sigmoid outputs, one binary decision per (example, label)."""
    labels = list(range(len(names)))
    predicted = (probs >= threshold).astype(int)
    # Per-label ECE compares the positive-class probability with how often the label is
    # present: it checks the sigmoid itself, independent of the chosen threshold.
    per_label_ece = {
        name: expected_calibration_error(probs[:, j], y_true[:, j])[0] for j, name in enumerate(names)
    }
    _, pooled_bins = expected_calibration_error(probs.ravel(), y_true.ravel())
    matrices = multilabel_confusion_matrix(y_true, predicted, labels=labels)
    return {
        "multi_label": True,
        "n": int(len(y_true)),
        "accuracy": float(accuracy_score(y_true, predicted)),
        "hamming_loss": float(hamming_loss(y_true, predicted)),
        **_averaged_scores(y_true, predicted, labels),
        "per_class": _per_class_scores(y_true, predicted, labels, names),
        "confusion_matrix": {
            "labels": names,
            "per_class": {name: matrices[j].tolist() for j, name in enumerate(names)},
        },
        "ece": float(np.mean(list(per_label_ece.values()))),
        "per_label_ece": per_label_ece,
        "calibration": pooled_bins,
    }


def _averaged_scores(y_true: np.ndarray, predicted: np.ndarray, labels: list[int]) -> dict[str, float]:
    """Macro, micro and weighted precision/recall/F1 as ``{average}_{metric}`` keys."""
    scores: dict[str, float] = {}
    for average in ("macro", "micro", "weighted"):
        precision, recall, f1, _ = precision_recall_fscore_support(
            y_true, predicted, labels=labels, average=average, zero_division=0
        )
        scores[f"{average}_precision"] = float(precision)
        scores[f"{average}_recall"] = float(recall)
        scores[f"{average}_f1"] = float(f1)
    return scores


def _per_class_scores(
    y_true: np.ndarray, predicted: np.ndarray, labels: list[int], names: list[str]
) -> dict[str, dict[str, float | int]]:
    """``{name: {precision, recall, f1, support}}`` for every label, absent ones included."""
    precision, recall, f1, support = precision_recall_fscore_support(
        y_true, predicted, labels=labels, average=None, zero_division=0
    )
    return {
        name: {
            "precision": float(precision[j]),
            "recall": float(recall[j]),
            "f1": float(f1[j]),
            "support": int(support[j]),
        }
        for j, name in enumerate(names)
    }


def _check_inputs(
    y_true: np.ndarray, probs: np.ndarray, label_names: list[str], multi_label: bool
) -> tuple[np.ndarray, np.ndarray]:
    """Check shapes and values up front, so a mismatch fails here and not deep in sklearn."""
    y_true = np.asarray(y_true)
    probs = np.asarray(probs, dtype=float)
    n_classes = len(label_names)
    if probs.ndim != 2 or probs.shape[1] != n_classes or probs.shape[0] == 0:
        raise DataError(
            f"probs must have shape (N > 0, {n_classes}) for {n_classes} label names, got {probs.shape}.",
            hint="Pass one row of class probabilities per example, in label_names order.",
        )
    if not np.isfinite(probs).all():
        raise DataError("probs contains NaN or infinite values.", hint="Check the model outputs.")
    expected_shape = probs.shape if multi_label else probs.shape[:1]
    if y_true.shape != expected_shape:
        kind = "multi-hot (N, C)" if multi_label else "class ids (N,)"
        raise DataError(
            f"y_true must be {kind} with shape {expected_shape}, got {y_true.shape}.",
            hint="Use multi_label=True for multi-hot targets." if y_true.ndim == 2 else None,
        )
    allowed = {0, 1} if multi_label else set(range(n_classes))
    found = set(np.unique(y_true).tolist())
    if not found <= allowed:
        bad = sorted(found - allowed)[:5]
        raise DataError(
            f"y_true holds values {bad} outside the valid ones "
            f"({'0 or 1' if multi_label else f'class ids 0..{n_classes - 1}'}).",
            hint="Map gold labels through the same label map as the model.",
        )
    return y_true.astype(int), probs
