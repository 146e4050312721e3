"""What is explained for NER: each predicted entity, as the summed probability of its words' predicted tags
(so an attribution is toward the whole span). Words are the task's own (the words prediction tags), erased by
replacement only, so that every entity keeps its word positions.

Example:
    >>> prediction = {"tokens": ["Ada", "met", "Bob"], "tags": ["B-PER", "O", "B-PER"]}
    >>> view = ner_view("IOB2", lambda split, tokenizer, labels, max_length: [])
    >>> [t.name for t in view.targets(prediction, ["B-PER", "I-PER", "O"], None)]
    ["PER 'Ada'", "PER 'Bob'"]
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import partial
from typing import Any

import numpy as np
import torch
from scipy.special import softmax

from finegrain.data.labels import LabelMap
from finegrain.data.split import Split
from finegrain.errors import ConfigError
from finegrain.tasks.explaining import ExplainView, Target, Word
from finegrain.tasks.ner.alignment import merge_windows
from finegrain.tasks.ner.predictions import group_by_example
from finegrain.tasks.ner.schemes import convert, split_tag, to_spans

__all__ = ["ner_view"]

Encode = Callable[[Split, Any, LabelMap, int], list[dict[str, Any]]]


def _words(split: Split, index: int) -> list[Word]:
    tokens = split.frame["tokens"].iloc[index]
    offsets = split.frame["offsets"].iloc[index] if "offsets" in split.frame else None
    if offsets is None:
        return [Word("tokens", token, None, None) for token in tokens]
    return [Word("text", token, start, end) for token, (start, end) in zip(tokens, offsets)]


def _rebuild(split: Split, index: int, replacements: dict[int, str | None]) -> list[str]:
    """The words as a token list, erased ones replaced: the positions of the others stay."""
    tokens = list(split.frame["tokens"].iloc[index])
    for word, replacement in replacements.items():
        if replacement is None:
            raise ValueError("NER words are replaced, never deleted")  # erasures= keeps "delete" out
        tokens[word] = replacement
    return tokens


def _targets(prediction: dict[str, Any], labels: Sequence[str], asked: str | None, scheme: str) -> list[Target]:
    given = "IOB2" if "text" in prediction else scheme  # a raw text's tags are IOB2, a token list's the run's
    tags = convert(prediction["tags"], given, "IOB2") if given != "IOB2" else prediction["tags"]
    types = list(dict.fromkeys(kind for _, kind in map(split_tag, labels) if kind is not None))
    if asked is not None and asked not in types:
        raise ConfigError(f"target '{asked}' is not an entity type of this run. Its types: {', '.join(types)}.",
                          where="--target", hint="give one of those types, or leave the target out to explain"
                                                 " every predicted entity.")
    tokens, ids = prediction["tokens"], {name: i for i, name in enumerate(labels)}
    return [Target(label=kind, name=f"{kind} '{' '.join(tokens[start:end])}'",
                   outputs=tuple((word, ids[tags[word]]) for word in range(start, end)), span=(start, end))
            for kind, start, end in to_spans(tags, "IOB2") if asked is None or kind == asked]


def _word_probabilities(split: Split, features: list[dict], logits: list[np.ndarray]) -> list[np.ndarray]:
    """Per sentence, each word's tag probabilities read where prediction reads them (its owning window)."""
    windows = group_by_example([f["example"] for f in features], len(split), features)
    window_logits = group_by_example([f["example"] for f in features], len(split), logits)
    return [softmax(merge_windows(w, l, len(tokens)).astype(np.float64), axis=-1)
            for w, l, tokens in zip(windows, window_logits, split.frame["tokens"])]


def ner_view(scheme: str, encode: Encode) -> ExplainView:
    """The NER view; ``scheme`` is the one its token lists' predicted tags are in, ``encode`` the task's own encoding
    (its windows carry ``word_ids`` and the ``owned`` first sub-token each word's tag is read from)."""
    return ExplainView(
        words=_words, rebuild=_rebuild, encode=encode,
        targets=partial(_targets, scheme=scheme), probabilities=lambda logits: torch.softmax(logits.float(), dim=-1),
        word_probabilities=_word_probabilities, erasures=("mask", "pad"), default_erasure="mask", per_word=True)
