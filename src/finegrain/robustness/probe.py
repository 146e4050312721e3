"""Predictions of examples and of their words replaced, batched through the run's own logits source (so every
method, fitted ones included): what the invariance tests and the attacks read. Each example's model inputs are
counted (an attack's queries).

Example:
    >>> probe = Probe(predictor, examples)  # doctest: +SKIP
    >>> gold, predictions = probe.run([(0, {}), (0, {2: "film"})])  # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from finegrain.data.split import Split
from finegrain.tasks.robustness import Example

if TYPE_CHECKING:
    from finegrain.training.predictor import Predictor

__all__ = ["Probe", "Request", "evaluate_examples", "input_text"]

Request = tuple[int, dict[int, "str | None"]]  # (example, word index -> replacement; None deletes it)
_CHUNK = 256  # inputs per call to the source: bounds memory whatever the number of candidates


def input_text(value: Any) -> str:
    """One input as a single text (a pair's texts and a token list joined by spaces), for sentence similarity."""
    return value if isinstance(value, str) else " ".join(value)


class Probe:
    """Gold-target probabilities and predictions of ``examples`` with words replaced."""

    def __init__(self, predictor: Predictor, examples: Sequence[Example], batch_size: int = 64):
        task = predictor.task
        self.predictor, self.batch_size, self.examples = predictor, batch_size, list(examples)
        self.explaining, self.view = task.explaining, task.robustness
        self.split = task.prediction_split([self.view.input(example) for example in examples])
        self.words = [self.explaining.words(self.split, i) for i in range(len(self.split))]
        names = predictor.labels.names
        self.targets = [self.view.gold(example, names) for example in examples] if self.view.no_attack is None \
            else []
        self.queries = np.zeros(len(examples), dtype=np.int64)

    def value(self, example: int, replacements: dict[int, str | None]) -> Any:
        """The input with the words replaced, as ``predict`` takes it."""
        return self.explaining.rebuild(self.split, example, replacements)

    def run(self, requests: Sequence[Request]) -> tuple[np.ndarray, list[dict[str, Any]]]:
        """Per request: the gold target's probability and the prediction."""
        gold, predictions = np.empty(len(requests)), []
        for start in range(0, len(requests), _CHUNK):
            chunk = requests[start:start + _CHUNK]
            split = self.predictor.task.prediction_split([self.value(i, r) for i, r in chunk])
            features, logits = self.predictor.logits(split, self.batch_size)
            probabilities = self.explaining.word_probabilities(split, features, logits)
            predictions.extend(self.predictor.task.decode(split, features, logits, self.predictor.labels))
            for offset, ((example, _), rows) in enumerate(zip(chunk, probabilities)):
                self.queries[example] += 1
                if self.targets:
                    target = self.targets[example]
                    gold[start + offset] = sum(rows[0 if w is None else w, c] for w, c in target.outputs)
        return gold, predictions


def evaluate_examples(predictor: Predictor, examples: Sequence[Example],
                      batch_size: int = 64) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """The predictions of labelled examples and the task's metrics on them (its own primary metric included)."""
    task = predictor.task
    frame = task.robustness.frame(examples)
    split = task.check(Split("robustness", frame, "robustness"))
    features, logits = predictor.logits(split, batch_size)
    return task.decode(split, features, logits, predictor.labels), task.evaluate(split, features, logits,
                                                                                predictor.labels)
