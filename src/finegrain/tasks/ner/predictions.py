"""Model outputs -> word tags: windows merged per sentence, softmax, argmax, repaired sequences.

The model scores sub-token windows; a sentence's words are read back from the first sub-token
of each word in the window that owns it (see :mod:`finegrain.tasks.ner.alignment`). Argmax
tags can break the scheme (an ``I-X`` after ``O``), so they are repaired the way the scheme
reader would read them, which keeps the entities the model meant.

Example:
    >>> import numpy as np
    >>> window = {"word_ids": [None, 0, 1, None], "owned": [False, True, True, False]}
    >>> logits = np.array([[0, 0, 0], [0, 0, 5], [0, 5, 0], [0, 0, 0]], dtype=np.float32)
    >>> tags, scores = sentence_tags([window], [logits], 2, ("B-X", "I-X", "O"))
    >>> tags
    ['O', 'B-X']
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from finegrain.tasks.ner.alignment import Window, merge_windows
from finegrain.tasks.ner.schemes import repair

__all__ = ["group_by_example", "sentence_tags", "all_sentence_tags"]


def group_by_example(examples: Sequence[int], n_examples: int, items: Sequence) -> list[list]:
    """``items`` (one per feature) gathered per example, keeping feature order inside each."""
    if len(examples) != len(items):
        raise ValueError(f"{len(examples)} features but {len(items)} logit arrays")
    grouped: list[list] = [[] for _ in range(n_examples)]
    for example, item in zip(examples, items):
        grouped[example].append(item)
    return grouped


def _softmax(logits: np.ndarray) -> np.ndarray:
    shifted = logits.astype(np.float64) - logits.max(axis=-1, keepdims=True)
    exp = np.exp(shifted)
    return exp / exp.sum(axis=-1, keepdims=True)


def sentence_tags(windows: Sequence[Window], logits: Sequence[np.ndarray], n_words: int,
                  names: Sequence[str], scheme: str = "IOB2") -> tuple[list[str], list[float]]:
    """Repaired tags (in ``scheme``, the training scheme) and a confidence per word."""
    if n_words == 0:
        return [], []
    probs = _softmax(merge_windows(windows, logits, n_words))
    best = probs.argmax(axis=-1)
    tags, _ = repair([names[i] for i in best], scheme)
    return tags, [round(float(p), 6) for p in probs.max(axis=-1)]


def all_sentence_tags(windows: Sequence[Window], examples: Sequence[int], logits: Sequence[np.ndarray],
                      lengths: Sequence[int], names: Sequence[str]) -> tuple[list[list[str]], list[list[float]]]:
    """:func:`sentence_tags` for every sentence; ``windows``/``examples``/``logits`` are per feature."""
    by_window = group_by_example(examples, len(lengths), windows)
    by_logits = group_by_example(examples, len(lengths), logits)
    tags, scores = [], []
    for sentence_windows, sentence_logits, n_words in zip(by_window, by_logits, lengths):
        sentence, confidence = sentence_tags(sentence_windows, sentence_logits, n_words, names)
        tags.append(sentence)
        scores.append(confidence)
    return tags, scores
