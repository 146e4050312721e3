"""What a task declares so that its predictions can be explained (``finegrain explain``): the words of an
input, how to rebuild it with words erased, the model inputs aligned to those words, and what is explained
for one prediction (a class; an entity summed over its span).

The explainers (:mod:`finegrain.explain`) only call these; they never name a task's labels or metrics.
Words are spans of the input's texts found by character offsets, never keyed by their text, so a word that
occurs twice is two words.

Example:
    >>> [(w.text, w.start, w.end) for w in text_words("the film, the film", "text")][:3]
    [('the', 0, 3), ('film', 4, 8), (',', 8, 9)]
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from finegrain.data.labels import LabelMap
from finegrain.data.split import Split

__all__ = ["Word", "Target", "ExplainView", "text_words", "encode_texts", "erase_text", "Erasure", "ERASURES"]

Erasure = str
ERASURES = ("delete", "mask", "pad")  # how a word leaves an input: deleted, or replaced by the mask/pad token

# A CJK character is one word (as in character-level corpora); other words are runs of word characters
# (apostrophes inside kept: "don't"), and each punctuation mark is a word of its own.
_CJK = "\u2e80-\u2fdf\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U000323af"
_WORD = re.compile(rf"[{_CJK}]|[^\W{_CJK}]+(?:['’][^\W{_CJK}]+)*|[^\w\s]")


@dataclass(frozen=True)
class Word:
    """One word of an input: the text field it is in, its text, and its character offsets there (end
    exclusive; None for a word given in a token list)."""

    field: str
    text: str
    start: int | None
    end: int | None


@dataclass(frozen=True)
class Target:
    """What one explanation explains: the summed probabilities of ``outputs``, each ``(word, class id)``
    (word None: the whole input's class; NER: each word of an entity and its predicted tag)."""

    label: str  # the class, or the entity's type
    name: str  # as shown: "positive", "PER 'Ada Lovelace'"
    outputs: tuple[tuple[int | None, int], ...]
    span: tuple[int, int] | None = None  # the words [start, end) an entity covers; None for a class


@dataclass(frozen=True)
class ExplainView:
    """A task's explanation seam (``Task.explaining``); each callable takes a split the task's
    ``prediction_split`` made."""

    # example i's words, in the order attributions are given
    words: Callable[[Split, int], list[Word]]
    # example i with some words erased (word index -> replacement; None deletes it), as ``predict`` takes it
    rebuild: Callable[[Split, int, dict[int, str | None]], Any]
    # (split, tokenizer, label map, max_length) -> model inputs with ``word_ids`` (word index or None per position) and
    # ``example``; an input longer than max_length gives several (windows)
    encode: Callable[[Split, Any, LabelMap, int], list[dict[str, Any]]]
    # (one prediction as ``predict`` gave it, the run's label names, the asked label or None) -> its targets
    targets: Callable[[dict[str, Any], Sequence[str], str | None], list[Target]]
    # logits (a tensor, last axis the classes) -> probabilities, as the task reads them (softmax, sigmoid)
    probabilities: Callable[[torch.Tensor], torch.Tensor]
    # (split, features, logits as the run's source gives them) -> per example (rows, classes) probabilities:
    # one row for a class per input, one per word for tags
    word_probabilities: Callable[[Split, list[dict[str, Any]], list[np.ndarray]], list[np.ndarray]]
    erasures: tuple[Erasure, ...] = ERASURES  # those the task can use (NER: replacement only, words keep place)
    default_erasure: Erasure = "delete"  # ERASER's: the word is removed
    # targets are outputs at words (tags, corrections: logits with a position axis), not classes of the input
    per_word: bool = False
    # a context in which the model computes every position's attention (attention rollout reads them)
    full_attention: Callable[[torch.nn.Module], contextlib.AbstractContextManager] = field(
        default=lambda model: contextlib.nullcontext())


def text_words(text: str, name: str) -> list[Word]:
    """The words of one text field, with their character offsets."""
    return [Word(name, match.group(), match.start(), match.end()) for match in _WORD.finditer(text)]


def erase_text(text: str, words: Sequence[Word], replacements: dict[int, str | None], first: int) -> str:
    """``text`` with its words (``words[j]`` is word ``first + j`` of the input) replaced or deleted; a deleted
    word takes the space before it along (the first word, the space after it), so no stray spaces are left."""
    pieces, at = [], 0
    for offset, word in enumerate(words):
        index = first + offset
        if index not in replacements or word.start is None:
            continue
        start, end, replacement = word.start, word.end, replacements[index]
        if replacement is None and start > at and text[start - 1] == " ":
            start -= 1
        elif replacement is None and not "".join(pieces).strip() and not text[at:start].strip():
            end += len(text[end:]) - len(text[end:].lstrip(" "))  # a deleted first word takes the space after it
        pieces.append(text[at:start])
        pieces.append(replacement or "")
        at = end
    pieces.append(text[at:])
    return "".join(pieces)


def encode_texts(tokenizer: Any, texts: Sequence[str], words: Sequence[Word], max_length: int,
                 example: int) -> list[dict[str, Any]]:
    """Model inputs of one input of one or two texts (a pair), each position mapped to its word.

    One text longer than ``max_length`` is cut into windows of whole words, each encoded on its own (as
    NER prediction reads long sentences); a pair is truncated longest-first, as the pair task encodes it,
    and the words cut off are in no window."""
    if len(texts) == 1:
        encoded = _encode(tokenizer, texts, words, max_length, example, shift=0)
        if len(encoded["input_ids"]) < max_length or not words:
            return [encoded]
        return _windows(tokenizer, texts[0], words, max_length, example)
    return [_encode(tokenizer, texts, words, max_length, example, shift=0)]


def _encode(tokenizer: Any, texts: Sequence[str], words: Sequence[Word], max_length: int, example: int, *,
            shift: int) -> dict[str, Any]:
    """One encoding; its tokens map to the word holding their first character (``shift``: where ``texts[0]``
    starts in the field, for a window)."""
    encoding = tokenizer(*texts, truncation="longest_first", max_length=max_length, return_offsets_mapping=True)
    fields = sorted({word.field for word in words}, key=[w.field for w in words].index) if words else []
    by_char = [_char_words(words, name, len(text) + shift) for name, text in zip(fields, texts)]
    word_ids: list[int | None] = []
    for sequence, (start, end) in zip(encoding.sequence_ids(), encoding["offset_mapping"]):
        if sequence is None or end <= start or sequence >= len(by_char):
            word_ids.append(None)
        else:
            word = int(by_char[sequence][start + shift])
            word_ids.append(None if word < 0 else word)
    feature = {"input_ids": list(encoding["input_ids"]), "word_ids": word_ids, "example": example}
    if "token_type_ids" in encoding and len(texts) > 1:
        feature["token_type_ids"] = list(encoding["token_type_ids"])
    return feature


def _char_words(words: Sequence[Word], name: str, length: int) -> np.ndarray:
    """Per character of one field, the index of the word covering it (or the last word before it; -1 before any)."""
    owner = np.full(length + 1, -1, dtype=np.int64)
    for index, word in enumerate(words):
        if word.field == name and word.start is not None:
            owner[word.start:] = index
    return owner


def _windows(tokenizer: Any, text: str, words: Sequence[Word], max_length: int, example: int) -> list[dict[str, Any]]:
    """Windows of whole words of at most ``max_length`` tokens, none overlapping, each encoded alone."""
    special = tokenizer.num_special_tokens_to_add(pair=False)
    pieces = [len(tokenizer(word.text, add_special_tokens=False)["input_ids"]) or 1 for word in words]
    windows, first, used = [], 0, 0
    for index, count in enumerate(pieces):
        if used and used + count > max_length - special:
            windows.append((first, index))
            first, used = index, 0
        used += count
    windows.append((first, len(words)))
    features = []
    for start, end in windows:
        begin, finish = words[start].start or 0, words[end - 1].end or len(text)
        features.append(_encode(tokenizer, [text[begin:finish]], words, max_length, example, shift=begin))
    return features
