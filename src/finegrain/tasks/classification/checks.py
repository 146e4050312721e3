"""Content checks for classification data: errors that point at rows and say how to fix them.

Labels that are valid strings but probably slips are caught too. A missing value written out as
text ('nan', '<NA>', 'null', '#N/A') is refused like an empty label: no class is named so, and
dropping the rows would quietly change what is trained and scored on. Spellings that may be
either a missing value or a real class ('None', 'NA', 'N/A'), and one class written in several
ways ('Neutral' beside 'neutral'), are trained as the data says, with a warning naming the rows.
"""

from __future__ import annotations

import logging
from collections import Counter

import pandas as pd

from finegrain.data.labels import LabelMap, spelling_variants
from finegrain.data.split import Split
from finegrain.errors import DataError

__all__ = ["check_texts", "parse_labels", "check_known_labels", "check_label_count", "warn_label_spellings"]

LOGGER = logging.getLogger("finegrain")
# How pandas/numpy ('nan', 'NaN', '<NA>', 'NaT'), JSON ('null') and Excel ('#N/A') write a missing value as text
_MISSING_SPELLINGS = frozenset({"nan", "NaN", "NAN", "<NA>", "NaT", "null", "NULL", "#N/A"})
# Python's str(None), R's NA and 'not applicable': missing values, or real classes ("no emotion")
_MAYBE_MISSING = frozenset({"None", "NA", "N/A"})


def _listing(rows: list, limit: int = 5) -> str:
    shown = ", ".join(str(r) for r in rows[:limit])
    return shown + (f" and {len(rows) - limit} more" if len(rows) > limit else "")


def _rows(split: Split, mask: pd.Series, limit: int = 5) -> str:
    rows = split.frame.loc[mask, "row"].tolist() if "row" in split.frame else list(mask[mask].index + 1)
    return _listing(rows, limit)


def check_texts(split: Split, column: str = "text", noun: str = "text") -> pd.Series:
    """The ``column`` of texts as strings; empty or whitespace-only texts are an error (``noun``: what the
    message calls one, e.g. "second text" for a pair's)."""
    texts = split.frame[column].astype(str)
    empty = split.frame[column].isna() | (texts.str.strip() == "")
    if empty.any():
        raise DataError(
            f"{int(empty.sum())} empty {noun}(s) in the {split.name} data, at row(s) {_rows(split, empty)}.",
            where=split.source,
            hint=f"Remove those rows or fill in their {noun}: an empty {noun} cannot be classified.",
        )
    return texts


def parse_labels(split: Split, multi_label: bool, separator: str) -> pd.Series:
    """Labels as strings (single-label) or sorted lists of strings (multi-label)."""
    raw = split.frame["label"]
    if multi_label:
        parsed = raw.map(lambda value: _as_list(value, separator))
        empty = parsed.map(len) == 0
        spelled = parsed.map(lambda items: next((item for item in items if item in _MISSING_SPELLINGS), None))
    else:
        parsed = raw.map(lambda value: "" if value is None or (isinstance(value, float) and pd.isna(value))
                         else str(value).strip())
        empty = parsed == ""
        spelled = parsed.where(parsed.isin(_MISSING_SPELLINGS), None)
    _check_no_missing_labels(split, empty, spelled)
    return parsed


def _check_no_missing_labels(split: Split, empty: pd.Series, spelled: pd.Series) -> None:
    """Empty labels and missing values written as text (``spelled``: the spelling, or None)."""
    written = spelled.notna() & ~empty
    missing = empty | written
    if not missing.any():
        return
    message = f"{int(missing.sum())} missing label(s) in the {split.name} data, at row(s) {_rows(split, missing)}"
    hint = "Give every row a label, or remove unlabelled rows from this file."
    if written.any():
        counts = Counter(spelled[written])
        kinds = ([f"{int(empty.sum())} empty"] if empty.any() else []) + [
            f"{count} written '{name}'" for name, count in sorted(counts.items())]
        message += (f": {', '.join(kinds)} (how pandas, numpy, JSON or Excel write a missing value as text;"
                    " no class is named so)")
        hint += (" finegrain refuses rather than drops such rows: dropping them would quietly change what is"
                 " trained and scored on. A 'nan' label usually comes from DataFrame.astype(str) over a missing"
                 " value: drop those rows first (df.dropna(subset=[column])).")
    raise DataError(message + ".", where=split.source, hint=hint)


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


def warn_label_spellings(split: Split, multi_label: bool) -> None:
    """Warn about training labels that may be slips, naming their rows: one class spelled in several
    ways (case, spacing) and labels that may stand for a missing value. They are kept as classes."""
    rows_of = _rows_by_label(split, multi_label)
    variants = _case_variants(rows_of)
    if variants:
        LOGGER.warning("finegrain: labels that differ only in case or spacing are different classes in the %s data"
                       " (%s): %s. If they are one class, write it one way.", split.name, split.source,
                       "; ".join(variants))
    maybe = [f"'{name}' ({_rows_phrase(rows)})" for name, rows in rows_of.items() if name in _MAYBE_MISSING]
    if maybe:
        LOGGER.warning("finegrain: label(s) %s in the %s data (%s) may be a missing value written as text (Python"
                       " writes None, R writes NA); kept as a class. If those rows have no label, fill them in or"
                       " remove them.", ", ".join(maybe), split.name, split.source)


def _rows_by_label(split: Split, multi_label: bool) -> dict[str, list[int]]:
    """Each label's rows, labels in the order the file first has them."""
    rows = split.frame["row"].tolist() if "row" in split.frame else range(1, len(split) + 1)
    found: dict[str, list[int]] = {}
    for row, value in zip(rows, split.frame["label"]):
        for name in value if multi_label else [value]:
            found.setdefault(name, []).append(int(row))
    return found


def _case_variants(rows_of: dict[str, list[int]]) -> list[str]:
    """'Neutral' (row 7) beside 'neutral' (40 rows)."""
    counts = {name: len(rows) for name, rows in rows_of.items()}
    return [", ".join(f"'{name}' ({_rows_phrase(rows_of[name])})" for name in others)
            + f" beside '{main}' ({counts[main]} row{'s' if counts[main] > 1 else ''})"
            for main, others in spelling_variants(counts)]


def _rows_phrase(rows: list[int]) -> str:
    return f"row{'s' if len(rows) > 1 else ''} {_listing(rows)}"
