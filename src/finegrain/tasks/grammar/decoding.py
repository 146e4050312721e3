"""Model outputs -> tags -> corrected texts and their edits, one pass at a time.

Per word (read from its first sub-token in the window that owns it), the head gives log p($KEEP) and its
top-k tags. As in GECToR, ``confidence_bias`` is added to $KEEP's probability before the most probable tag
is taken, and a sentence whose most probable error (non-$KEEP) tag is below ``min_error_probability`` is
left as it is. A tag that cannot apply ($DELETE on $START, a transform of a word it does not fit) keeps the
word.

The edits given back are those between the source and the final text (word alignment), each at its character
offsets in the source, with the tag that made it and that tag's probability (several passes: the first tag
applied there, the highest probability).

Example:
    >>> import numpy as np
    >>> p = np.log  # a row: [log p($KEEP), the top-2 tag ids, their log-probabilities]
    >>> rows = np.array([[p(0.9), 1, 0, p(0.9), p(0.1)], [p(0.2), 0, 1, p(0.7), p(0.2)]])
    >>> choose_tags(rows, ("$APPEND_the", "$KEEP"), keep=1, bias=0.0, min_error=0.0)
    (['$KEEP', '$APPEND_the'], [0.9, 0.7])
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from finegrain.tasks.grammar.alignment import word_edits
from finegrain.tasks.grammar.tags import KEEP, Applied, apply_tags
from finegrain.tasks.ner.alignment import merge_windows
from finegrain.tasks.ner.predictions import group_by_example
from finegrain.tasks.spelling.words import word_spans, words

__all__ = ["choose_tags", "Pass", "tag_pass", "final_edits", "Record"]

Record = tuple[tuple[int, int], str, float]  # a tag applied: the source span it touched, the tag, its probability


def choose_tags(rows: np.ndarray, names: Sequence[str], keep: int, bias: float, min_error: float
                ) -> tuple[list[str], list[float]]:
    """Per word, the chosen tag and its probability, from rows of ``[log p(keep), top-k ids, top-k log p]``."""
    k = (rows.shape[1] - 1) // 2
    keep_p = np.exp(rows[:, 0].astype(np.float64))
    ids, probs = rows[:, 1:1 + k].astype(np.int64), np.exp(rows[:, 1 + k:].astype(np.float64))
    errors = np.where(ids == keep, 0.0, probs)
    best = errors.argmax(axis=1)
    best_p = errors[np.arange(len(rows)), best]
    if len(rows) == 0 or best_p.max() < min_error:
        return [KEEP] * len(rows), [round(float(p), 6) for p in keep_p]
    tags, chosen = [], []
    for row, (index, p) in enumerate(zip(best, best_p)):
        if p > keep_p[row] + bias:
            tags.append(names[ids[row, index]])
            chosen.append(round(float(p), 6))
        else:
            tags.append(KEEP)
            chosen.append(round(float(keep_p[row]), 6))
    return tags, chosen


@dataclass(frozen=True)
class Pass:
    """One text after one more pass: where it stands and which tags were applied on the way."""

    applied: Applied
    records: list[Record]


def tag_pass(texts: Sequence[str], origins: Sequence[list[tuple[int, int]] | None], features: list[dict[str, Any]],
             logits: list[np.ndarray], names: Sequence[str], keep: int, bias: float, min_error: float) -> list[Pass]:
    """Each text with the tags the model chose applied (``origins``: its words' spans in the first source)."""
    grouped = group_by_example([f["example"] for f in features], len(texts), list(zip(features, logits)))
    passes = []
    for text, origin, items in zip(texts, origins, grouped):
        n = len(words(text)) + 1
        rows = merge_windows([f for f, _ in items], [v for _, v in items], n) if items else np.zeros((n, 3))
        tags, probs = choose_tags(rows, names, keep, bias, min_error)
        applied = apply_tags(text, tags, origin)
        spans = origin if origin is not None else [(s.start, s.end) for s in word_spans(text)]
        first = spans[0][0] if spans else 0
        records = [((first, first) if i == 0 else spans[i - 1], tag, p)
                   for i, (tag, p) in enumerate(zip(tags, probs)) if tag != KEEP]
        passes.append(Pass(applied, records))
    return passes


def final_edits(source: str, corrected: str, records: Sequence[Record]) -> list[dict[str, Any]]:
    """The edits from ``source`` to ``corrected``: character offsets in the source, the words there, their
    replacement, and the tag (with its probability) applied there."""
    spans = word_spans(source)
    edits = []
    for start, end, replacement in word_edits([s.text for s in spans], words(corrected)):
        if start < end:
            position, stop = spans[start].start, spans[end - 1].end
        else:
            position = stop = spans[start - 1].end if start else (spans[0].start if spans else 0)
        touching = [(tag, p) for (a, b), tag, p in records if a <= stop and b >= position]
        edits.append({"position": position, "end": stop, "original": source[position:stop],
                      "correction": " ".join(replacement), "tag": touching[0][0] if touching else None,
                      "probability": max((p for _, p in touching), default=None)})
    return edits
