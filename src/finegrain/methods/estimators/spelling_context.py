"""``symspell-context``: symspellpy's candidates reranked by a small log-linear model fitted on the training pairs,
with the words around each one as context (English, the word level of the spelling task).

What differs from the context-free ``symspell``:

- **Words of the training targets count as known.** A name or term the dictionary lacks but the corrected
  training text uses ("Mourinho", "eBay") is left alone, as a user's own dictionary would be; this is what
  keeps over-correction down.
- **The candidate is chosen in context.** Every dictionary word within two edits of an unknown word is scored
  by :data:`FEATURES` (edit distance, the dictionary's frequency, how often the training targets use it, how
  often symspellpy's shipped bigram list has it after the previous word and before the next one, same first
  letter, length change); the weights are fitted by maximum likelihood (a conditional logit, L-BFGS) over the
  training misspellings whose correction is among their candidates, with a Gaussian prior centred on
  symspell's own rule (fewest edits, then most frequent), so a training set with no misspellings gives
  symspell's choices. The features name no word, so they carry over to misspellings training never saw.

It answers like the dictionary methods: per word ``[score, correction or "", probability]``, the probability
the model's (softmax over the candidates) for its pick; the task tunes its acceptance threshold on validation.
``context: false`` drops the bigram features (the training words and frequencies stay), to measure each part.

Example:
    >>> [round(v, 2) for v in features("believe", "beleive", "i", "you", {"believe": 4}, {("i", "believe"): 10})]
    [1.0, 18.15, 1.61, 2.4, 0.0, 1.0, 0.0, 1.0, 0.0]
"""

from __future__ import annotations

import functools
import importlib.resources
import json
import math
import random
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

import numpy as np
import torch
from pydantic import Field

from finegrain.config import Section
from finegrain.methods.base import EncoderSource, FittedMethod
from finegrain.methods.estimators.base import EstimatorContext, FitStats
from finegrain.methods.estimators.spelling_dictionary import check_installed, check_word_level, correctable
from finegrain.methods.estimators.spelling_ngram import UNCHANGED
from finegrain.registry import METHODS
from finegrain.tasks.spelling.candidates import symspell, symspell_candidates
from finegrain.tasks.spelling.word_level import _distance
from finegrain.tasks.spelling.words import with_case, word_spans, words

if TYPE_CHECKING:
    from finegrain.tasks.base import Task

__all__ = ["SymSpellContext", "SymSpellContextParams", "features", "FEATURES"]

FEATURES = ("distance", "log dictionary frequency", "log training frequency", "log bigram with previous",
            "log bigram with next", "bigram with previous seen", "bigram with next seen", "same first letter",
            "length change")
CONTEXT = (3, 4, 5, 6)  # the bigram features, zero with context: false
PRIOR = (-10.0, 1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0)  # symspell's rule: fewest edits, then most frequent
MAX_CANDIDATES = 64  # per word, the closest and most frequent first: enough for the right word nearly always
_BIGRAMS = "frequency_bigramdictionary_en_243_342.txt"


@functools.lru_cache(maxsize=1)
def bigrams() -> dict[tuple[str, str], int]:
    """symspellpy's shipped English bigram counts (242,342 pairs, lower case), read once per process."""
    path = importlib.resources.files("symspellpy") / _BIGRAMS
    counts = {}
    with path.open(encoding="utf-8") as lines:
        for line in lines:
            first, second, count = line.split()
            counts[(first, second)] = int(count)
    return counts


def features(candidate: str, written: str, previous: str | None, following: str | None,
             training: Counter | dict[str, int], pairs: dict[tuple[str, str], int] | None) -> list[float]:
    """The :data:`FEATURES` of one candidate (lower case) for the written word between two neighbours (lower
    case, None at a sentence edge); ``pairs`` None: no context (the bigram features are 0)."""
    before = pairs.get((previous, candidate), 0) if pairs is not None and previous else 0
    after = pairs.get((candidate, following), 0) if pairs is not None and following else 0
    return [float(_distance(written.lower(), candidate)), math.log(symspell().words.get(candidate, 1)),
            math.log1p(training.get(candidate, 0)), math.log1p(before), math.log1p(after), float(before > 0),
            float(after > 0), float(candidate[:1] == written[:1].lower()), float(abs(len(candidate) - len(written)))]


def candidates(word: str) -> list[str]:
    """symspellpy's words within two edits of ``word``, closest and most frequent first, at most
    :data:`MAX_CANDIDATES`."""
    frequency = symspell().words
    ranked = sorted(symspell_candidates(word), key=lambda c: (_distance(word.lower(), c), -frequency.get(c, 0), c))
    return ranked[:MAX_CANDIDATES]


class SymSpellContextParams(Section):
    context: bool = True  # the bigram features (False: training words and frequencies only)
    max_fit_words: int = Field(20000, ge=1)  # training misspellings the weights are fitted on (a seeded sample)
    prior_strength: float = Field(1.0, gt=0)  # the Gaussian prior's precision around symspell's rule


@METHODS.register("symspell-context")
class SymSpellContext(FittedMethod):
    """symspellpy's candidates reranked in context by weights fitted on the training pairs (English words)."""

    name: ClassVar[str] = "symspell-context"
    Params: ClassVar[type[SymSpellContextParams]] = SymSpellContextParams
    tasks: ClassVar[tuple[str, ...]] = ("spelling",)
    encoder: ClassVar[EncoderSource] = "none"

    def __init__(self, params: SymSpellContextParams | None = None):
        self.params = params or SymSpellContextParams()
        self.weights = np.array(PRIOR)
        self.training: Counter = Counter()  # lower-cased words of the training targets
        self.known: frozenset[str] = frozenset()  # their written forms the dictionary lacks: left alone
        self.fitted_words = 0

    def check_task(self, task: Task) -> None:
        check_word_level(self, task)
        check_installed(self, "symspellpy")

    def _neighbours(self, written: list[str], index: int) -> tuple[str | None, str | None]:
        previous = written[index - 1].lower() if index > 0 else None
        following = written[index + 1].lower() if index + 1 < len(written) else None
        return previous, following

    def _unknown(self, word: str) -> bool:
        """A word this corrector may change: correctable, not in the dictionary, not written so in training."""
        return correctable(word) and word.lower() not in symspell().words and word not in self.known

    def fit(self, texts: list[str], targets: np.ndarray, context: EstimatorContext) -> FitStats:
        wanted_texts = [words(str(target)) for target in targets]
        self.training = Counter(w.lower() for wanted in wanted_texts for w in wanted)
        self.known = frozenset(w for wanted in wanted_texts for w in wanted
                               if correctable(w) and w.lower() not in symspell().words)
        pairs = bigrams() if self.params.context else None
        found = [(written, wanted, index) for written, wanted in zip((words(t) for t in texts), wanted_texts)
                 if len(written) == len(wanted)
                 for index, (source, target) in enumerate(zip(written, wanted))
                 if source != target and self._unknown(source) and target.lower() in symspell_candidates(source)]
        random.Random(context.seed).shuffle(found)
        rows, answers = [], []
        for written, wanted, index in found[: self.params.max_fit_words]:
            ranked = candidates(written[index])
            if wanted[index].lower() not in ranked:
                continue
            own = Counter(w.lower() for w in wanted)  # the sentence's own words do not count for it
            counts = {c: self.training[c] - own[c] for c in ranked}
            rows.append([features(c, written[index], *self._neighbours(written, index), counts, pairs)
                         for c in ranked])
            answers.append(ranked.index(wanted[index].lower()))
        self.weights = _fit_weights(rows, answers, self.params.prior_strength, self.params.context)
        self.fitted_words = len(rows)
        return FitStats(len(FEATURES), len(FEATURES) + len(self.known))

    def log_probs(self, texts: list[str], context: EstimatorContext | None) -> list[np.ndarray]:
        pairs = bigrams() if self.params.context else None
        answers = []
        for text in texts:
            spans = word_spans(text)
            written = [span.text for span in spans]
            rows = np.empty((len(spans), 3), dtype=object)
            rows[:] = (UNCHANGED, "", 0.0)
            for index, span in enumerate(spans):
                if not self._unknown(span.text) or not (ranked := candidates(span.text)):
                    continue
                scores = np.array([features(c, span.text, *self._neighbours(written, index), self.training, pairs)
                                   for c in ranked]) @ self.weights
                probabilities = np.exp(scores - scores.max())
                probabilities /= probabilities.sum()
                best = int(np.argmax(scores))
                probability = float(min(max(probabilities[best], 1e-6), 1 - 1e-6))
                rows[index] = (math.log(probability / (1 - probability)), with_case(span.text, ranked[best]),
                               probability)
            answers.append(rows)
        return answers

    def save(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        state = {"features": list(FEATURES), "weights": self.weights.tolist(), "fitted_words": self.fitted_words,
                 "known": sorted(self.known), "training": dict(self.training)}
        (directory / "reranker.json").write_text(json.dumps(state, ensure_ascii=False), encoding="utf-8")

    def load(self, directory: Path, context: EstimatorContext) -> SymSpellContext:
        state = json.loads((directory / "reranker.json").read_text(encoding="utf-8"))
        self.weights = np.array(state["weights"])
        self.known, self.training = frozenset(state["known"]), Counter(state["training"])
        self.fitted_words = state["fitted_words"]
        return self


def _fit_weights(rows: list[list[list[float]]], answers: list[int], strength: float, context: bool) -> np.ndarray:
    """Maximum a posteriori weights of a conditional logit (softmax over each word's candidates) with a Gaussian
    prior of precision ``strength`` around :data:`PRIOR`; the context features' weights stay 0 without context."""
    prior = torch.tensor(PRIOR, dtype=torch.float64)
    if not rows:
        return prior.numpy()
    width = max(len(r) for r in rows)
    x = torch.zeros(len(rows), width, len(FEATURES), dtype=torch.float64)
    mask = torch.zeros(len(rows), width, dtype=torch.bool)
    for i, row in enumerate(rows):
        x[i, :len(row)] = torch.tensor(row, dtype=torch.float64)
        mask[i, :len(row)] = True
    free = torch.ones(len(FEATURES), dtype=torch.float64)
    if not context:
        free[list(CONTEXT)] = 0
    delta = torch.zeros(len(FEATURES), dtype=torch.float64, requires_grad=True)
    target = torch.tensor(answers)
    optimizer = torch.optim.LBFGS([delta], max_iter=200, line_search_fn="strong_wolfe")

    def closure() -> torch.Tensor:
        optimizer.zero_grad()
        scores = (x @ (prior + delta * free)).masked_fill(~mask, float("-inf"))
        loss = torch.nn.functional.cross_entropy(scores, target, reduction="sum") + 0.5 * strength * (delta ** 2).sum()
        loss.backward()
        return loss

    optimizer.step(closure)
    return (prior + delta.detach() * free).numpy()
