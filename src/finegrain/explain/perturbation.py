"""The run's target probabilities for inputs with some words erased, computed through the predictor's own
source (so for every method, fitted ones included): what occlusion and the faithfulness metrics read.

Erasing deletes a word (ERASER's removal) or replaces it with the mask or padding token; a task whose words
must keep their positions (NER) allows replacement only. A deletion that would leave a text with no word
replaces that text's first word with the padding token instead: an empty text is not an input.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from finegrain.data.split import Split
from finegrain.errors import ConfigError
from finegrain.tasks.explaining import ExplainView, Target, Word

if TYPE_CHECKING:
    from finegrain.training.predictor import Predictor

__all__ = ["Erased", "Scorer", "token_strings"]

_CHUNK = 256  # erased inputs per call to the source: bounds memory whatever the number of words

# The strings of the mask and padding tokens where a run has no tokenizer (TF-IDF): unknown words to it
_FALLBACK = {"mask": "[MASK]", "pad": "[PAD]"}


@dataclass(frozen=True)
class Erased:
    """One request: input ``example`` of the split with ``words`` erased, scored for ``target``."""

    example: int
    words: frozenset[int]
    target: Target


def token_strings(tokenizer: Any | None) -> dict[str, str]:
    """The mask and padding tokens as text, from the run's tokenizer where it has them."""
    found = {"mask": getattr(tokenizer, "mask_token", None), "pad": getattr(tokenizer, "pad_token", None)}
    return {name: value or _FALLBACK[name] for name, value in found.items()}


class Scorer:
    """Target probabilities of erased inputs, batched through ``predictor.logits``."""

    def __init__(self, predictor: Predictor, view: ExplainView, split: Split, erasure: str, tokens: dict[str, str],
                 batch_size: int = 64):
        if erasure not in view.erasures:
            raise ConfigError(f"erasure '{erasure}' cannot be used for the {predictor.task.name} task, which erases"
                              f" a word only by {' or '.join(view.erasures)}.", where="--erase",
                              hint=f"use --erase {view.erasures[0]}, or leave --erase out for the task's default.")
        self.predictor, self.view, self.split, self.batch_size = predictor, view, split, batch_size
        self.erasure = erasure
        self.replacement = None if erasure == "delete" else tokens[erasure]
        self.pad = tokens["pad"]
        self.words = [view.words(split, index) for index in range(len(split))]

    def scores(self, requests: Sequence[Erased]) -> np.ndarray:
        """The target's probability for each request, in order."""
        out = np.empty(len(requests))
        for start in range(0, len(requests), _CHUNK):
            chunk = requests[start:start + _CHUNK]
            values = [self.view.rebuild(self.split, r.example, self._replacements(r)) for r in chunk]
            split = self.predictor.task.prediction_split(values)
            features, logits = self.predictor.logits(split, self.batch_size)
            probabilities = self.view.word_probabilities(split, features, logits)
            out[start:start + len(chunk)] = [_value(p, r.target) for p, r in zip(probabilities, chunk)]
        return out

    def _replacements(self, request: Erased) -> dict[int, str | None]:
        replacements: dict[int, str | None] = {w: self.replacement for w in request.words}
        if self.replacement is None:
            for first in _emptied(self.words[request.example], request.words):
                replacements[first] = self.pad
        return replacements


def _emptied(words: Sequence[Word], erased: Iterable[int]) -> list[int]:
    """The first word of each text whose every word is erased."""
    erased = set(erased)
    by_field: dict[str, list[int]] = {}
    for index, word in enumerate(words):
        by_field.setdefault(word.field, []).append(index)
    return [indices[0] for indices in by_field.values() if erased.issuperset(indices)]


def _value(probabilities: np.ndarray, target: Target) -> float:
    """The target's summed probabilities: row 0 for a class of the whole input, else the word's row."""
    return float(sum(probabilities[0 if word is None else word, label] for word, label in target.outputs))
