"""What is explained for classification and pairs: the predicted class (or the one asked for), from the
words of the input's one or two texts.

Example:
    >>> view = class_view(("text",), multi_label=False)
    >>> [t.name for t in view.targets({"label": "pos"}, ["neg", "pos"], None)]
    ['pos']
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial
from typing import Any

import numpy as np
import torch

from finegrain.data.labels import LabelMap
from finegrain.data.split import Split
from finegrain.errors import ConfigError
from finegrain.tasks.classification.first_token import every_position
from finegrain.tasks.explaining import ExplainView, Target, Word, encode_texts, erase_text, text_words

__all__ = ["class_view"]


def _texts(split: Split, index: int, fields: Sequence[str]) -> list[str]:
    return [split.frame[name].iloc[index] for name in fields]


def _words(split: Split, index: int, fields: Sequence[str]) -> list[Word]:
    return [word for name, text in zip(fields, _texts(split, index, fields)) for word in text_words(text, name)]


def _rebuild(split: Split, index: int, replacements: dict[int, str | None], fields: Sequence[str]) -> Any:
    texts, first, rebuilt = _texts(split, index, fields), 0, []
    for name, text in zip(fields, texts):
        words = text_words(text, name)
        rebuilt.append(erase_text(text, words, replacements, first))
        first += len(words)
    return rebuilt[0] if len(rebuilt) == 1 else tuple(rebuilt)


def _encode(split: Split, tokenizer: Any, labels: LabelMap, max_length: int, fields: Sequence[str]) -> list[dict]:
    return [feature for index in range(len(split))
            for feature in encode_texts(tokenizer, _texts(split, index, fields), _words(split, index, fields),
                                        max_length, index)]


def _targets(prediction: dict[str, Any], labels: Sequence[str], asked: str | None) -> list[Target]:
    label = prediction["label"] if asked is None else asked
    if label not in labels:
        raise ConfigError(f"target '{asked}' is not a label of this run. Its labels: {', '.join(labels)}.",
                          where="--target", hint="give one of those labels, or leave the target out to explain"
                                                 " the predicted one.")
    return [Target(label=label, name=label, outputs=((None, list(labels).index(label)),))]


def _probabilities(logits: torch.Tensor, multi_label: bool) -> torch.Tensor:
    return torch.sigmoid(logits.float()) if multi_label else torch.softmax(logits.float(), dim=-1)


def _word_probabilities(split: Split, features: list[dict], logits: list[np.ndarray],
                        multi_label: bool) -> list[np.ndarray]:
    """One row per input: the source gives one logit vector per input (truncated as prediction reads it)."""
    stacked = _probabilities(torch.from_numpy(np.stack(logits)), multi_label).numpy()
    return [stacked[i : i + 1] for i in range(len(stacked))]


def class_view(fields: tuple[str, ...], multi_label: bool) -> ExplainView:
    """The view of a task that gives one class per input of the texts in ``fields`` (pairs: two)."""
    return ExplainView(
        words=partial(_words, fields=fields), rebuild=partial(_rebuild, fields=fields),
        encode=partial(_encode, fields=fields), targets=_targets,
        probabilities=partial(_probabilities, multi_label=multi_label),
        word_probabilities=partial(_word_probabilities, multi_label=multi_label), full_attention=every_position)
