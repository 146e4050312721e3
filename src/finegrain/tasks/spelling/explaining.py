"""What is explained for spelling: each accepted correction, as the detection head's probability that its
character is wrong. Words are the text's characters (whitespace aside); an erased one is replaced by a
one-character placeholder (``□``, unknown to the vocabularies: [UNK]) whatever erasure is asked, so every
other character keeps its position, as the one-character-one-token encoding needs.

Example:
    >>> view = character_view(lambda split, tokenizer, labels, max_length: [])
    >>> [t.name for t in view.targets({"text": "我门", "edits": [{"position": 1, "original": "门",
    ...                                 "correction": "们"}]}, ["correct", "wrong"], None)]
    ['门 -> 们 at 1']
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch

from finegrain.data.labels import LabelMap
from finegrain.data.split import Split
from finegrain.tasks.explaining import ExplainView, Target, Word

__all__ = ["character_view", "PLACEHOLDER"]

PLACEHOLDER = "□"
Encode = Callable[[Split, Any, LabelMap, int], list[dict[str, Any]]]


def _words(split: Split, index: int) -> list[Word]:
    text = split.frame["source"].iloc[index]
    return [Word("text", c, i, i + 1) for i, c in enumerate(text) if not c.isspace()]


def _word_of_char(text: str) -> dict[int, int]:
    return {char: word for word, char in enumerate(i for i, c in enumerate(text) if not c.isspace())}


def _rebuild(split: Split, index: int, replacements: dict[int, str | None]) -> str:
    words = _words(split, index)
    chars = list(split.frame["source"].iloc[index])
    for word in replacements:
        chars[words[word].start] = PLACEHOLDER
    return "".join(chars)


def _encode(encode: Encode) -> Encode:
    def with_words(split: Split, tokenizer: Any, labels: LabelMap, max_length: int) -> list[dict[str, Any]]:
        features = encode(split, tokenizer, labels, max_length)
        for feature in features:
            owner = _word_of_char(split.frame["source"].iloc[feature["example"]])
            feature["word_ids"] = [None if char is None else owner.get(char) for char in feature["chars"]]
        return features
    return with_words


def _targets(prediction: dict[str, Any], labels: Sequence[str], asked: str | None) -> list[Target]:
    owner = _word_of_char(prediction["text"])
    return [Target(label="wrong", name=f"{e['original']} -> {e['correction']} at {e['position']}",
                   outputs=((owner[e["position"]], 1),), span=(owner[e["position"]], owner[e["position"]] + 1))
            for e in prediction["edits"] if asked in (None, "wrong")]


def _probabilities(logits: torch.Tensor) -> torch.Tensor:
    wrong = torch.sigmoid(logits[..., 0].float())
    return torch.stack([1 - wrong, wrong], dim=-1)


def _word_probabilities(split: Split, features: list[dict[str, Any]], logits: list[np.ndarray]) -> list[np.ndarray]:
    rows = [np.zeros((len(_words(split, i)), 2)) for i in range(len(split))]
    for feature, values in zip(features, logits):
        owner = _word_of_char(split.frame["source"].iloc[feature["example"]])
        # a fitted method answers per character, a model per position of its encoding
        chars = feature["chars"] if "chars" in feature else range(len(values))
        for position, char in enumerate(chars):
            if char is not None and char in owner:
                wrong = 1.0 / (1.0 + np.exp(-float(values[position, 0])))
                rows[feature["example"]][owner[char]] = (1 - wrong, wrong)
    return rows


def character_view(encode: Encode) -> ExplainView:
    """The spelling view over the task's own encoding (``encode``), its features given ``word_ids``."""
    return ExplainView(words=_words, rebuild=_rebuild, encode=_encode(encode), targets=_targets,
                       probabilities=_probabilities, word_probabilities=_word_probabilities,
                       erasures=("mask", "pad"), default_erasure="mask", per_word=True)
