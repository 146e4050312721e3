"""Cleaning and group-aware splitting of labelled texts and text pairs, with counts for the cards.

Each cleaning step counts what it changed, so a dataset card can say how many rows were
normalised, dropped as duplicates, or dropped because their copies disagree on the label.
Pairs are split by groups of questions (:func:`pair_groups`) so that a question seen in
training is not asked again at test time.

Example:
    >>> rows = pd.DataFrame({"text": ["a\\u200b  b", "a b", "c"], "label": ["x", "x", "y"]})
    >>> cleaned = clean_texts(rows)
    >>> cleaned["text"].tolist(), cleaned.attrs["cleaning"]["duplicates_dropped"]
    (['a b', 'c'], 1)
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

__all__ = ["normalize_text", "clean_texts", "clean_pairs", "question_components", "pair_groups", "group_split"]

# C0/C1 controls other than the whitespace ones, zero-width and direction marks, separators, BOM:
# invisible, and they make equal questions look different (BQ starts 177 questions with a backspace).
_INVISIBLE = re.compile(r"[\x00-\x08\x0e-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2060-\u2064\ufeff]")
_FRACTIONS = (0.8, 0.1)  # train, validation; test gets the rest


def normalize_text(text: str) -> str:
    """Invisible characters removed, every run of whitespace (tabs, newlines, U+3000) one space, stripped."""
    return " ".join(_INVISIBLE.sub("", text).split())


def _normalize(values: pd.Series) -> tuple[pd.Series, np.ndarray]:
    """Normalised values and a mask of the rows that changed."""
    original = values.astype(str)
    normalized = original.map(normalize_text)
    return normalized, (normalized != original).to_numpy()


def _drop_unusable(rows: pd.DataFrame, columns: list[str], lost: frozenset[str]) -> tuple[pd.DataFrame, int]:
    """Rows with an empty text or a text that the source lost (e.g. a spreadsheet's ``#NAME?``)."""
    bad = np.zeros(len(rows), dtype=bool)
    for column in columns:
        bad |= (rows[column] == "").to_numpy() | rows[column].isin(lost).to_numpy()
    return rows[~bad], int(bad.sum())


def _drop_conflicts_and_duplicates(rows: pd.DataFrame, key: pd.Series) -> tuple[pd.DataFrame, dict[str, int]]:
    """Every copy of a key whose copies disagree on the label goes; of the rest, the first copy stays."""
    labels_per_key = rows.groupby(key.to_numpy(), sort=False)["label"].transform("nunique").to_numpy()
    conflicting = labels_per_key > 1
    kept = rows[~conflicting]
    duplicate = key[~conflicting].duplicated().to_numpy()
    counts = {"conflicting_dropped": int(conflicting.sum()),
              "conflicting_keys": int(key[conflicting].nunique()),
              "duplicates_dropped": int(duplicate.sum())}
    return kept[~duplicate].reset_index(drop=True), counts


def clean_texts(rows: pd.DataFrame) -> pd.DataFrame:
    """``text``/``label`` rows normalised, empty texts dropped, one copy per text (none if copies disagree).

    ``attrs["cleaning"]`` counts: ``read``, ``normalized`` (texts changed), ``empty_dropped``,
    ``conflicting_dropped`` (rows whose text also carries another label), ``conflicting_keys``
    (such texts), ``duplicates_dropped`` and ``kept``.
    """
    text, changed = _normalize(rows["text"])
    frame = pd.DataFrame({"text": text, "label": rows["label"].astype(str)})
    frame, empty = _drop_unusable(frame, ["text"], frozenset())
    frame, counts = _drop_conflicts_and_duplicates(frame, frame["text"])
    frame.attrs["cleaning"] = {"read": len(rows), "normalized": int(changed.sum()), "empty_dropped": empty,
                               **counts, "kept": len(frame)}
    return frame


def clean_pairs(rows: pd.DataFrame, lost: frozenset[str] = frozenset()) -> pd.DataFrame:
    """``text``/``text_pair``/``label`` rows cleaned like :func:`clean_texts`, a pair being unordered.

    Matching is symmetric, so (a, b) and (b, a) are the same pair: a swapped copy is a duplicate,
    and a swapped copy with another label a conflict. Rows with an empty side, or a side in
    ``lost``, are dropped (``unusable_dropped``); ``normalized`` counts rows where either side changed.
    """
    text, changed = _normalize(rows["text"])
    text_pair, changed_pair = _normalize(rows["text_pair"])
    frame = pd.DataFrame({"text": text, "text_pair": text_pair, "label": rows["label"].astype(str)})
    frame, unusable = _drop_unusable(frame, ["text", "text_pair"], lost)
    first = np.where(frame["text"] <= frame["text_pair"], frame["text"], frame["text_pair"])
    second = np.where(frame["text"] <= frame["text_pair"], frame["text_pair"], frame["text"])
    key = pd.Series(first, dtype=object) + "\0" + pd.Series(second, dtype=object)
    frame, counts = _drop_conflicts_and_duplicates(frame.reset_index(drop=True), key)
    frame.attrs["cleaning"] = {"read": len(rows), "normalized": int((changed | changed_pair).sum()),
                               "unusable_dropped": unusable, **counts, "kept": len(frame)}
    return frame


def question_components(rows: pd.DataFrame) -> np.ndarray:
    """Per pair, the connected component of the question graph (questions linked by pairs) it is in."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    texts = pd.Index(pd.unique(pd.concat([rows["text"], rows["text_pair"]], ignore_index=True)))
    first, second = texts.get_indexer(rows["text"]), texts.get_indexer(rows["text_pair"])
    graph = coo_matrix((np.ones(len(rows)), (first, second)), shape=(len(texts), len(texts)))
    _, component_of_text = connected_components(graph, directed=False)
    return component_of_text[first]


def pair_groups(rows: pd.DataFrame, max_share: float = 0.01) -> np.ndarray:
    """A group id per pair: pairs that share a question, directly or through others, share a group.

    Questions linked by pairs form connected components; a split along components puts no
    question on two sides. A component holding more than ``max_share`` of the pairs cannot be
    placed whole without skewing the 80/10/10 sizes (BQ has one with 66% of its pairs), so
    its pairs are grouped by their first text only: no first text crosses a split, though a
    question may still appear as the second text of a pair elsewhere.
    """
    component = question_components(rows)
    sizes = np.bincount(component)
    too_big = sizes[component] > max_share * len(rows)
    by_first_text = pd.factorize(rows["text"])[0] + len(sizes)  # ids after the component ids
    return np.where(too_big, by_first_text, component)


def group_split(rows: pd.DataFrame, groups: np.ndarray, seed: int) -> dict[str, pd.DataFrame]:
    """Train/validation/test (about 80/10/10 of the rows) with every group on one side only.

    Groups are shuffled with ``seed`` and laid end to end; a group goes to the split where its
    first row falls. Rows keep their source order within a split, and ``row`` numbers them 1..n.
    """
    codes = pd.factorize(groups)[0]
    sizes = np.bincount(codes)
    order = np.random.RandomState(seed).permutation(len(sizes))
    starts = np.cumsum(sizes[order]) - sizes[order]
    bounds = np.cumsum(_FRACTIONS) * len(rows)
    part_of_group = np.empty(len(sizes), dtype=int)
    part_of_group[order] = np.searchsorted(bounds, starts, side="right")
    part = part_of_group[codes]
    splits = {}
    for index, name in enumerate(("train", "validation", "test")):
        frame = rows[part == index].reset_index(drop=True)
        frame["row"] = range(1, len(frame) + 1)
        splits[name] = frame
    return splits
