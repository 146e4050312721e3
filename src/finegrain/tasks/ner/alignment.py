"""Word <-> sub-token alignment for token classification, with overlapping windows.

Words are labelled on their first sub-token only (the others get -100, which the loss ignores),
the usual recipe for BERT-style NER. Sentences longer than the model's window are cut into
windows of whole words that overlap by up to ``stride`` sub-tokens, so no word is dropped; each
word is *owned* (labelled for the loss, read back at prediction) by exactly one window, the one
where it sits farthest from a cut edge and so has the most context on both sides.

Example:
    >>> windows = encode_words(tokenizer, ["EU", "rejects", "German"], [1, 0, 2], 128, 16)  # doctest: +SKIP
    >>> word_logits = merge_windows(windows, model_logits, n_words=3)  # doctest: +SKIP
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from finegrain.errors import ConfigError, ModelError

__all__ = ["IGNORE_INDEX", "Window", "encode_words", "merge_windows"]

IGNORE_INDEX = -100
"""Label of positions the loss skips (torch's CrossEntropyLoss default ignore_index)."""

Window = dict[str, Any]
"""One model input: ``input_ids``, ``labels``, ``word_ids`` (word index or None per position),
``owned`` (True on the first sub-token of each word this window scores) and ``window`` (its index)."""


def _special_template(tokenizer: Any) -> tuple[list[int], list[int]]:
    """The special tokens the tokenizer puts before and after one sentence ([CLS] / [SEP], <s> / </s>)."""
    encoding = tokenizer(["a"], is_split_into_words=True)
    ids, word_ids = encoding["input_ids"], encoding.word_ids()
    content = [i for i, word in enumerate(word_ids) if word is not None]
    if not content:
        return list(ids), []
    return list(ids[: content[0]]), list(ids[content[-1] + 1 :])


def _word_pieces(tokenizer: Any, words: Sequence[str], max_pieces: int) -> list[list[int]]:
    """Sub-token ids per word; a word with none gets [UNK], one with too many is cut to ``max_pieces``."""
    if not words:
        return []
    encoding = tokenizer(list(words), is_split_into_words=True, add_special_tokens=False)
    pieces: list[list[int]] = [[] for _ in words]
    for token_id, word in zip(encoding["input_ids"], encoding.word_ids()):
        if word is not None:
            pieces[word].append(token_id)
    fallback = tokenizer.unk_token_id if tokenizer.unk_token_id is not None else tokenizer.pad_token_id
    return [(word_pieces or [fallback])[:max_pieces] for word_pieces in pieces]


def _window_ranges(lengths: Sequence[int], capacity: int, stride: int) -> list[tuple[int, int]]:
    """Word ranges [start, end) of at most ``capacity`` sub-tokens, overlapping by <= ``stride``."""
    ranges: list[tuple[int, int]] = []
    start = 0
    while True:
        end, used = start, 0
        while end < len(lengths) and used + lengths[end] <= capacity:
            used += lengths[end]
            end += 1
        ranges.append((start, end))
        if end >= len(lengths):
            return ranges
        next_start, overlap = end, 0
        while next_start - 1 > start and overlap + lengths[next_start - 1] <= stride:
            next_start -= 1
            overlap += lengths[next_start]
        start = next_start


def _owners(ranges: Sequence[tuple[int, int]], lengths: Sequence[int]) -> list[int]:
    """For each word, the window where its first sub-token is farthest from a cut edge."""
    n_words = len(lengths)
    owner = [-1] * n_words
    best = [-math.inf] * n_words
    for index, (start, end) in enumerate(ranges):
        total = sum(lengths[start:end])
        position = 0
        for word in range(start, end):
            left = position if start > 0 else math.inf
            right = total - 1 - position if end < n_words else math.inf
            if min(left, right) > best[word]:
                best[word], owner[word] = min(left, right), index
            position += lengths[word]
    return owner


def _check_sizes(max_length: int, stride: int, n_special: int) -> int:
    capacity = max_length - n_special
    if capacity < 1:
        raise ConfigError(
            f"max_length {max_length} leaves no room for words after {n_special} special tokens",
            hint=f"use max_length of at least {n_special + 1} (typically 128-512)",
        )
    if not 0 <= stride < capacity:
        raise ConfigError(
            f"stride {stride} must be at least 0 and below {capacity} (max_length minus special tokens)",
            hint=f"use a stride of about a quarter of max_length, e.g. {capacity // 4}",
        )
    return capacity


def encode_words(
    tokenizer: Any, words: Sequence[str], tag_ids: Sequence[int] | None, max_length: int, stride: int
) -> list[Window]:
    """Encode one pre-split sentence into one or more windows (see the module docstring).

    ``tokenizer`` must be a fast tokenizer (it needs ``word_ids()``); ``tag_ids`` is None when
    there are no gold tags, and then every label is -100.
    """
    if not getattr(tokenizer, "is_fast", False):
        raise ModelError(
            f"token classification needs a fast tokenizer, found {type(tokenizer).__name__}",
            hint="load the tokenizer with AutoTokenizer.from_pretrained(path) (use_fast=True), "
            "or use a model that ships a tokenizer.json",
        )
    if tag_ids is not None and len(tag_ids) != len(words):
        raise ValueError(f"{len(words)} words but {len(tag_ids)} tag ids")
    prefix, suffix = _special_template(tokenizer)
    capacity = _check_sizes(max_length, stride, len(prefix) + len(suffix))
    pieces = _word_pieces(tokenizer, words, capacity)
    lengths = [len(word_pieces) for word_pieces in pieces]
    ranges = _window_ranges(lengths, capacity, stride)
    owner = _owners(ranges, lengths)
    n_before, n_after = len(prefix), len(suffix)
    windows = []
    for index, (start, end) in enumerate(ranges):
        window = _build_window(pieces, range(start, end), owner, index, tag_ids)
        window["input_ids"] = prefix + window["input_ids"] + suffix
        for key, pad in (("labels", IGNORE_INDEX), ("word_ids", None), ("owned", False)):
            window[key] = [pad] * n_before + window[key] + [pad] * n_after
        windows.append(window)
    return windows


def _build_window(
    pieces: Sequence[Sequence[int]], words: range, owner: Sequence[int], index: int,
    tag_ids: Sequence[int] | None,
) -> Window:
    window: Window = {"input_ids": [], "labels": [], "word_ids": [], "owned": [], "window": index}
    for word in words:
        for offset, piece in enumerate(pieces[word]):
            owned = offset == 0 and owner[word] == index
            window["input_ids"].append(piece)
            window["word_ids"].append(word)
            window["owned"].append(owned)
            window["labels"].append(tag_ids[word] if owned and tag_ids is not None else IGNORE_INDEX)
    return window


def merge_windows(windows: Sequence[Window], logits: Sequence[np.ndarray], n_words: int) -> np.ndarray:
    """Word-level logits (n_words, n_tags) read from each word's first sub-token in its owning window.

    ``logits[i]`` belongs to ``windows[i]`` and has one row per position (padding rows beyond
    the window's length are ignored).
    """
    if len(windows) != len(logits):
        raise ValueError(f"{len(windows)} windows but {len(logits)} logit arrays")
    n_tags = logits[0].shape[-1] if len(logits) else 0
    merged = np.zeros((n_words, n_tags), dtype=logits[0].dtype if len(logits) else np.float32)
    seen = np.zeros(n_words, dtype=bool)
    for window, window_logits in zip(windows, logits):
        for position, (word, owned) in enumerate(zip(window["word_ids"], window["owned"])):
            if owned:
                merged[word] = window_logits[position]
                seen[word] = True
    if not seen.all():
        raise ValueError(f"words {np.flatnonzero(~seen).tolist()[:10]} are owned by no window")
    return merged
