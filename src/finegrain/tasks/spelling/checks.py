"""Content checks for spelling pairs (``source`` with errors, ``target`` corrected): what cannot be trained on is
said, with rows, and never dropped silently.

- an empty source (or target) is an error naming the rows;
- a pair whose texts differ in length (characters; words at the word level) cannot be a unit-for-unit
  correction: such pairs are counted and the first few shown; they stay in the split (scored at sentence
  level, never trained on) and the message points to the ``grammar`` task, which handles insertions and
  deletions;
- a training file whose every target equals its source has nothing to learn: a warning.

Example:
    >>> import pandas as pd
    >>> split = Split("train", pd.DataFrame({"source": ["我门好"], "target": ["我们好"], "row": [1]}), "t.jsonl")
    >>> check_pairs(split).frame["same_length"].tolist()
    [True]
"""

from __future__ import annotations

import logging

import pandas as pd

from finegrain.data.split import Split
from finegrain.errors import DataError
from finegrain.tasks.spelling.words import words

__all__ = ["check_pairs", "check_not_empty", "warn_if_unchanged", "LOGGER"]

LOGGER = logging.getLogger("finegrain")
_SHOWN = 3  # unequal pairs quoted in the warning


def _rows(split: Split, mask: pd.Series) -> str:
    rows = split.frame.loc[mask, "row"].tolist() if "row" in split.frame else list(mask[mask].index + 1)
    return ", ".join(str(r) for r in rows[:5]) + (f" and {len(rows) - 5} more" if len(rows) > 5 else "")


def check_not_empty(split: Split, column: str, noun: str) -> pd.Series:
    """The column as strings; empty ones are a DataError naming their rows."""
    texts = split.frame[column].astype(str)
    empty = split.frame[column].isna() | (texts.str.strip() == "")
    if empty.any():
        raise DataError(f"{int(empty.sum())} empty {noun}(s) in the {split.name} data, at row(s) {_rows(split, empty)}.",
                        where=split.source, hint=f"remove those rows or fill in their {noun}: an empty text has"
                                                 " nothing to correct.")
    return texts


def check_pairs(split: Split, level: str = "character") -> Split:
    """Sources and targets as strings, ``same_length`` per pair (in characters, or in words at the word
    ``level``); unequal pairs and an all-unchanged training file are reported (a warning), empty texts refused."""
    frame = split.frame.copy()
    frame["source"] = check_not_empty(split, "source", "source text")
    if "target" not in frame:
        return Split(split.name, frame, split.source)
    frame["target"] = check_not_empty(split, "target", "target text")
    length = (lambda text: len(words(text))) if level == "word" else len
    frame["same_length"] = frame["source"].map(length) == frame["target"].map(length)
    unequal = ~frame["same_length"]
    if unequal.any():
        unit = "word" if level == "word" else "character"
        shown = "; ".join(f"row {row}: '{s}' -> '{t}'" for row, s, t in
                          frame.loc[unequal, ["row", "source", "target"]].head(_SHOWN).itertuples(index=False))
        LOGGER.warning("finegrain: %d of %d %s pair(s) in %s differ in length in %ss (%s), so they are no %s-for-%s"
                       " correction: they are kept and scored at sentence level, never trained on. Pairs with"
                       " insertions or deletions are for the 'grammar' task.", int(unequal.sum()), len(frame),
                       split.name, split.source, unit, shown, unit, unit)
    warn_if_unchanged(split.name, frame, split.source)
    return Split(split.name, frame, split.source)


def warn_if_unchanged(name: str, frame: pd.DataFrame, source: str) -> None:
    """A training file whose every target equals its source has nothing to learn: a warning."""
    if name == "train" and (frame["source"] == frame["target"]).all():
        LOGGER.warning("finegrain: every target in the training data %s equals its source: there is no error to learn"
                       " from, so the model can only learn to change nothing. Check that data.label names the"
                       " corrected column.", source)
