"""Entity-level metrics with seqeval, in strict mode (the headline) and conlleval-like mode.

Strict mode counts an entity only when it is written validly in the declared scheme, so a model
that emits broken tag sequences is not flattered; the default (conlleval-like) mode is reported
beside it because published CoNLL numbers use it. Both come with per-type scores.

Example:
    >>> gold = [["B-PER", "I-PER", "O", "B-LOC"]]
    >>> pred = [["B-PER", "I-PER", "O", "O"]]
    >>> result = entity_metrics(gold, pred, "IOB2")
    >>> result["entity_precision"], result["entity_recall"], round(result["entity_f1"], 3)
    (1.0, 0.5, 0.667)
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
from seqeval import scheme as seqeval_scheme
from seqeval.metrics import accuracy_score, classification_report

from finegrain.tasks.ner.schemes import normalize_scheme, split_tag

__all__ = ["entity_metrics"]

_SEQEVAL_SCHEMES = {
    "IOB1": seqeval_scheme.IOB1,
    "IOB2": seqeval_scheme.IOB2,
    "IOE1": seqeval_scheme.IOE1,
    "IOE2": seqeval_scheme.IOE2,
    "BIOES": seqeval_scheme.IOBES,
}
_AVERAGES = ("micro avg", "macro avg", "weighted avg")


def _canonical_tags(sequences: Sequence[Sequence[str]]) -> list[list[str]]:
    """Tags with BILOU's L-/U- written as E-/S-, which seqeval's IOBES scheme expects."""
    out = []
    for tags in sequences:
        row = []
        for tag in tags:
            prefix, entity_type = split_tag(tag)
            row.append(tag if entity_type is None else f"{prefix}-{entity_type}")
        out.append(row)
    return out


def _check_shapes(gold: Sequence[Sequence[str]], pred: Sequence[Sequence[str]]) -> None:
    if len(gold) != len(pred):
        raise ValueError(f"{len(gold)} gold sentences but {len(pred)} predicted")
    for index, (gold_tags, pred_tags) in enumerate(zip(gold, pred)):
        if len(gold_tags) != len(pred_tags):
            raise ValueError(f"sentence {index}: {len(gold_tags)} gold tags but {len(pred_tags)} predicted")


def _mode_scores(gold: list[list[str]], pred: list[list[str]], **mode: Any) -> dict[str, Any]:
    """Micro precision/recall/F1, macro F1 and per-type scores for one seqeval mode."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        report = classification_report(gold, pred, output_dict=True, zero_division=0, **mode)
    micro = report.get("micro avg", {})
    per_type = {
        name: {
            "precision": float(scores["precision"]),
            "recall": float(scores["recall"]),
            "f1": float(scores["f1-score"]),
            "support": int(scores["support"]),
        }
        for name, scores in sorted(report.items())
        if name not in _AVERAGES
    }
    return {
        "precision": float(micro.get("precision", 0.0)),
        "recall": float(micro.get("recall", 0.0)),
        "f1": float(micro.get("f1-score", 0.0)),
        "macro_f1": float(report.get("macro avg", {}).get("f1-score", 0.0)),
        "support": int(sum(scores["support"] for scores in per_type.values())),
        "per_type": per_type,
    }


def entity_metrics(gold: Sequence[Sequence[str]], pred: Sequence[Sequence[str]], scheme: str) -> dict[str, Any]:
    """Entity metrics of predicted against gold tag sequences (JSON-serialisable).

    Keys: ``headline`` ("strict"), ``strict`` and ``default`` (each: precision, recall, f1
    (micro), macro_f1, support, per_type), ``token_accuracy``, ``n`` (sentences), and the strict
    headline numbers at the top level: ``entity_f1``, ``entity_precision``, ``entity_recall``,
    ``macro_f1``.
    """
    _check_shapes(gold, pred)
    gold_tags, pred_tags = _canonical_tags(gold), _canonical_tags(pred)
    strict = _mode_scores(gold_tags, pred_tags, mode="strict", scheme=_SEQEVAL_SCHEMES[normalize_scheme(scheme)])
    default = _mode_scores(gold_tags, pred_tags)
    n_tokens = sum(len(tags) for tags in gold_tags)
    token_accuracy = float(accuracy_score(gold_tags, pred_tags)) if n_tokens else 0.0
    return {
        "headline": "strict",
        "entity_f1": strict["f1"],
        "entity_precision": strict["precision"],
        "entity_recall": strict["recall"],
        "macro_f1": strict["macro_f1"],
        "token_accuracy": token_accuracy,
        "n": len(gold_tags),
        "strict": strict,
        "default": default,
    }


def sentence_entity_counts(gold: Sequence[Sequence[str]], pred: Sequence[Sequence[str]], scheme: str) -> np.ndarray:
    """Per sentence, strict-mode entity (tp, fp, fn): summed over sentences they give the headline
    ``entity_f1``, and resampled they give its confidence interval. An int array (sentences, 3)."""
    _check_shapes(gold, pred)
    kind = _SEQEVAL_SCHEMES[normalize_scheme(scheme)]
    counts = np.zeros((len(gold), 3), dtype=np.int64)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        gold_entities = seqeval_scheme.Entities(_canonical_tags(gold), kind).entities
        pred_entities = seqeval_scheme.Entities(_canonical_tags(pred), kind).entities
    for index, (gold_row, pred_row) in enumerate(zip(gold_entities, pred_entities)):
        true = {entity.to_tuple()[1:] for entity in gold_row}
        found = {entity.to_tuple()[1:] for entity in pred_row}
        counts[index] = (len(true & found), len(found - true), len(true - found))
    return counts
