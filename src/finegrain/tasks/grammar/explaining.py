"""What is explained for grammar correction: each edit of the first pass, as the probability that its word
needs an edit (1 - p($KEEP)) at the word the tag sits on. Words are the text's words (as the tagger reads
them); an erased one is replaced by a one-character placeholder (spelling's ``□``) whatever erasure is asked,
so every other word keeps its index, as the tags need.

Example:
    >>> view = grammar_view(lambda split, tokenizer, labels, max_length: [])
    >>> [t.name for t in view.targets({"text": "He go", "edits": [{"position": 3, "original": "go",
    ...                                 "correction": "goes"}]}, ["$KEEP"], None)]
    ['go -> goes at 3']
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch

from finegrain.data.labels import LabelMap
from finegrain.data.split import Split
from finegrain.tasks.explaining import ExplainView, Target, Word
from finegrain.tasks.grammar.encoding import tokens_of
from finegrain.tasks.ner.alignment import merge_windows
from finegrain.tasks.ner.predictions import group_by_example
from finegrain.tasks.spelling.explaining import PLACEHOLDER
from finegrain.tasks.spelling.words import word_spans

__all__ = ["grammar_view"]

Encode = Callable[[Split, Any, LabelMap, int], list[dict[str, Any]]]


def _words(split: Split, index: int) -> list[Word]:
    return [Word("text", s.text, s.start, s.end) for s in word_spans(split.frame["source"].iloc[index])]


def _rebuild(split: Split, index: int, replacements: dict[int, str | None]) -> str:
    text = split.frame["source"].iloc[index]
    for word in sorted(replacements, key=lambda w: -_words(split, index)[w].start):
        span = _words(split, index)[word]
        text = text[:span.start] + PLACEHOLDER + text[span.end:]
    return text


def _encode(encode: Encode) -> Encode:
    def with_words(split: Split, tokenizer: Any, labels: LabelMap, max_length: int) -> list[dict[str, Any]]:
        features = encode(split, tokenizer, labels, max_length)
        for feature in features:  # the tagger's word 0 is $START, no word of the text
            feature["word_ids"] = [None if w is None or w == 0 else w - 1 for w in feature["word_ids"]]
        return features
    return with_words


def _word_at(text: str, position: int) -> int:
    starts = [s.start for s in word_spans(text)]
    return max([i for i, start in enumerate(starts) if start <= position], default=0)


def _targets(prediction: dict[str, Any], labels: Sequence[str], asked: str | None) -> list[Target]:
    targets = []
    for e in prediction["edits"] if asked in (None, "edit") else []:
        word = _word_at(prediction["text"], e["position"])
        targets.append(Target(label="edit", name=f"{e['original'] or '^'} -> {e['correction']} at {e['position']}",
                              outputs=((word, 1),), span=(word, word + 1)))
    return targets


def _probabilities(logits: torch.Tensor) -> torch.Tensor:
    keep = torch.exp(logits[..., 0].float())
    return torch.stack([keep, 1 - keep], dim=-1)


def _word_probabilities(split: Split, features: list[dict[str, Any]], logits: list[np.ndarray]) -> list[np.ndarray]:
    grouped = group_by_example([f["example"] for f in features], len(split), list(zip(features, logits)))
    rows = []
    for text, items in zip(split.frame["source"], grouped):
        merged = merge_windows([f for f, _ in items], [v for _, v in items], len(tokens_of(text)))
        keep = np.exp(merged[1:, 0].astype(np.float64))
        rows.append(np.stack([keep, 1 - keep], axis=-1))
    return rows


def grammar_view(encode: Encode) -> ExplainView:
    """The grammar view over the task's own encoding (``encode``), its features given text word ids."""
    return ExplainView(words=_words, rebuild=_rebuild, encode=_encode(encode), targets=_targets,
                       probabilities=_probabilities, word_probabilities=_word_probabilities,
                       erasures=("mask", "pad"), default_erasure="mask", per_word=True)
