"""Model outputs -> word tags: windows merged per sentence, softmax, the most probable valid sequence.

The model scores sub-token windows; a sentence's words are read back from the first sub-token
of each word in the window that owns it (see :mod:`finegrain.tasks.ner.alignment`). Per-word argmax
tags can break the scheme (an ``I-X`` after ``O``); instead the tags are the most probable sequence
that IOB2 allows (Viterbi over the word probabilities, an ``I-X`` only after ``B-X`` or ``I-X``).
On tweet-ner this beat both argmax readings (stray ``I-`` dropped, or turned into ``B-``):
docs/performance.md, "NER decoding".

Example:
    >>> import numpy as np
    >>> window = {"word_ids": [None, 0, 1, None], "owned": [False, True, True, False]}
    >>> logits = np.array([[0, 0, 0], [0, 0, 5], [3, 5, 0], [0, 0, 0]], dtype=np.float32)
    >>> tags, scores = sentence_tags([window], [logits], 2, ("B-X", "I-X", "O"))
    >>> tags  # argmax says O, I-X: not valid IOB2; B-X is the next most probable for word 1
    ['O', 'B-X']
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache

import numpy as np

from finegrain.tasks.ner.alignment import Window, merge_windows
from finegrain.tasks.ner.schemes import split_tag

__all__ = ["group_by_example", "sentence_tags", "all_sentence_tags", "best_valid_sequence"]


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
                  names: Sequence[str]) -> tuple[list[str], list[float]]:
    """The most probable valid IOB2 tags (the training scheme) and each chosen tag's probability."""
    if n_words == 0:
        return [], []
    probs = _softmax(merge_windows(windows, logits, n_words))
    best = best_valid_sequence(probs, names)
    return [names[i] for i in best], [round(float(p), 6) for p in probs[np.arange(n_words), best]]


def best_valid_sequence(probs: np.ndarray, names: Sequence[str]) -> list[int]:
    """Viterbi: the tag indices maximising the product of word probabilities among IOB2-valid sequences."""
    allowed_start, allowed = _transitions(tuple(names))
    scores = np.log(np.clip(probs, 1e-12, None))
    n_words, n_tags = scores.shape
    total = np.where(allowed_start, scores[0], -np.inf)
    back = np.zeros((n_words, n_tags), dtype=np.int64)
    for word in range(1, n_words):
        candidates = total[:, None] + np.where(allowed, 0.0, -np.inf)  # [previous tag, tag]
        back[word] = candidates.argmax(axis=0)
        total = candidates.max(axis=0) + scores[word]
    path = [int(total.argmax())]
    for word in range(n_words - 1, 0, -1):
        path.append(int(back[word][path[-1]]))
    return path[::-1]


@lru_cache(maxsize=8)
def _transitions(names: tuple[str, ...]) -> tuple[np.ndarray, np.ndarray]:
    """IOB2: ``I-X`` may start nothing and may only follow ``B-X`` or ``I-X``; any other tag goes anywhere."""
    parts = [split_tag(name) for name in names]
    inside = np.array([prefix == "I" and kind is not None for prefix, kind in parts])
    allowed = np.array([[not inside[j] or (parts[i][1] is not None and parts[i][1] == parts[j][1])
                         for j in range(len(names))] for i in range(len(names))])
    return ~inside, allowed


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
