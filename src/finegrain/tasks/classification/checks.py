"""Content checks for classification data: errors that point at rows and say how to fix them."""

from __future__ import annotations

from collections import Counter

import pandas as pd

from finegrain.data.labels import LabelMap
from finegrain.data.split import Split
from finegrain.errors import DataError

__all__ = ["check_texts", "parse_labels", "check_known_labels", "check_label_count"]


def _rows(split: Split, mask: pd.Series, limit: int = 5) -> str:
    rows = split.frame.loc[mask, "row"].tolist() if "row" in split.frame else list(mask[mask].index + 1)
    shown = ", ".join(str(r) for r in rows[:limit])
    return shown + (f" and {len(rows) - limit} more" if len(rows) > limit else "")


def check_texts(split: Split) -> pd.Series:
    """The text column as strings; empty or whitespace-only texts are an error."""
    texts = split.frame["text"].astype(str)
    empty = split.frame["text"].isna() | (texts.str.strip() == "")
    if empty.any():
        raise DataError(
            f"{int(empty.sum())} empty text(s) in the {split.name} data, at row(s) {_rows(split, empty)}.",
            where=split.source,
            hint="Remove those rows or fill in their text: an empty text cannot be classified.",
        )
    return texts


def parse_labels(split: Split, multi_label: bool, separator: str) -> pd.Series:
    """Labels as strings (single-label) or sorted lists of strings (multi-label)."""
    raw = split.frame["label"]
    if multi_label:
        parsed = raw.map(lambda value: _as_list(value, separator))
        empty = parsed.map(len) == 0
    else:
        parsed = raw.map(lambda value: "" if value is None or (isinstance(value, float) and pd.isna(value))
                         else str(value).strip())
        empty = parsed == ""
    if empty.any():
        raise DataError(
            f"{int(empty.sum())} missing label(s) in the {split.name} data, at row(s) {_rows(split, empty)}.",
            where=split.source,
            hint="Give every row a label, or remove unlabelled rows from this file.",
        )
    return parsed


def _as_list(value, separator: str) -> list[str]:
    if isinstance(value, (list, tuple)) or hasattr(value, "tolist"):
        items = list(value.tolist() if hasattr(value, "tolist") else value)
    elif value is None or (isinstance(value, float) and pd.isna(value)):
        items = []
    else:
        items = str(value).split(separator)
    return sorted({str(item).strip() for item in items if str(item).strip()})


def check_label_count(split: Split, values: list[str]) -> None:
    """Training data needs at least two classes."""
    counts = Counter(values)
    if len(counts) < 2:
        only = next(iter(counts), "nothing")
        raise DataError(
            f"The training data has a single class ('{only}', {counts.get(only, 0)} rows): "
            "a classifier needs at least two.",
            where=split.source,
            hint="Check data.label points at the label column, or add examples of the other classes.",
        )


def check_known_labels(split: Split, labels: LabelMap, multi_label: bool) -> None:
    """Labels in evaluation data that training never saw are an error (the model cannot predict them)."""
    values = split.frame["label"]
    unknown_of = (lambda v: [x for x in v if x not in labels]) if multi_label else (
        lambda v: [v] if v not in labels else [])
    unknown = values.map(unknown_of)
    mask = unknown.map(len) > 0
    if mask.any():
        names = sorted({name for items in unknown[mask] for name in items})
        raise DataError(
            f"The {split.name} data has label(s) {', '.join(repr(n) for n in names)} that the training data "
            f"never has, at row(s) {_rows(split, mask)}. Known labels: {', '.join(labels.names)}.",
            where=split.source,
            hint="Fix the label spelling, add training examples of that label, or drop those rows.",
        )
