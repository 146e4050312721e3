"""Greedy word-substitution attacks, all offline: words ranked by leave-one-out saliency (the drop of the gold
target's probability when the word is erased), then replaced in that order by the candidate that lowers it most,
until the prediction is wrong or the budget is spent.

Constraints: at most ``max_share`` of an input's words changed, stopwords, punctuation and entities (the task's
``protected`` words) never touched, and the changed text's MiniLM similarity to the original at least
``min_similarity``. Every step scores the candidates of all examples still under attack in one batched pass.

Example:
    >>> results = attack(predictor, examples, "char", Constraints(), seed=0)  # doctest: +SKIP
    >>> sum(r.success for r in results) / len(results)  # doctest: +SKIP
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from finegrain.explain.perturbation import token_strings
from finegrain.robustness.candidates import ATTACKS, Candidates
from finegrain.robustness.lexicon import STOPWORDS
from finegrain.robustness.probe import Probe, Request, input_text
from finegrain.robustness.similarity import Similarity
from finegrain.tasks.robustness import Example
from finegrain.training.logits_source import ModelLogits

if TYPE_CHECKING:
    from finegrain.training.predictor import Predictor

__all__ = ["Constraints", "AttackResult", "attack"]


@dataclass(frozen=True)
class Constraints:
    max_share: float = 0.25  # at most a quarter of an input's words changed (TextAttack's recipes use 0.1-0.3)
    min_similarity: float = 0.8  # MiniLM cosine to the original (0: no floor, MiniLM not loaded)


@dataclass
class AttackResult:
    """One attacked input: correct before (only those are attacked); ``success``: wrong after."""

    row: int
    original: Any
    adversarial: Any
    success: bool
    changed: int  # words replaced
    words: int  # words in the input
    queries: int  # model inputs scored for it (clean, saliency and candidates)
    before: dict[str, Any] = field(repr=False, default_factory=dict)
    after: dict[str, Any] = field(repr=False, default_factory=dict)


@dataclass
class _State:
    order: list[int]  # words to try, most salient first
    budget: int
    clean: float
    best: float
    replacements: dict[int, str | None] = field(default_factory=dict)
    prediction: dict[str, Any] = field(default_factory=dict)
    at: int = 0
    done: bool = False
    success: bool = False


def attack(predictor: Predictor, examples: Sequence[Example], name: str, constraints: Constraints, *, seed: int,
           similarity: Similarity | None = None, batch_size: int = 64) -> list[AttackResult]:
    """Attack every example the run predicts correctly; one :class:`AttackResult` each, in order."""
    candidates = ATTACKS.get(name).build(predictor)
    similarity = similarity or Similarity(constraints.min_similarity)
    probe = Probe(predictor, examples, batch_size)
    gold, predictions = probe.run([(i, {}) for i in range(len(examples))])
    view = predictor.task.robustness
    attacked = [i for i, (e, p) in enumerate(zip(examples, predictions)) if view.correct(p, e)]
    states = _rank(probe, attacked, gold, constraints, _erasure(predictor))
    for i in attacked:
        states[i].prediction = predictions[i]
    rng = random.Random(f"{seed}:{name}")
    while any(not state.done for state in states.values()):
        _step(probe, states, candidates, similarity, constraints, rng)
    return [_result(probe, i, states[i], predictions[i]) for i in attacked]


def _erasure(predictor: Predictor) -> str | None:
    """How saliency erases a word: deleted where the task allows it, else the mask token (NER keeps places)."""
    view = predictor.task.explaining
    if "delete" in view.erasures:
        return None
    tokenizer = predictor.source.encoding.tokenizer if isinstance(predictor.source, ModelLogits) else None
    return token_strings(tokenizer)["mask"]


def _attackable(probe: Probe, example: int) -> list[int]:
    protected = probe.view.protected(probe.examples[example])
    return [w for w, word in enumerate(probe.words[example])
            if w not in protected and word.text.lower() not in STOPWORDS and any(c.isalpha() for c in word.text)]


def _rank(probe: Probe, attacked: list[int], gold: np.ndarray, constraints: Constraints,
          erasure: str | None) -> dict[int, _State]:
    """Each attacked example's words in order of leave-one-out saliency, in one batched pass."""
    requests: list[Request] = []
    for i in attacked:
        alone = len(probe.words[i]) < 2  # deleting an input's only word leaves no input: mask it instead
        requests.extend((i, {w: "[MASK]" if alone and erasure is None else erasure}) for w in _attackable(probe, i))
    erased, _ = probe.run(requests)
    saliency: dict[int, list[tuple[float, int]]] = {i: [] for i in attacked}
    for (i, replaced), value in zip(requests, erased):
        saliency[i].append((gold[i] - value, next(iter(replaced))))
    return {i: _State(order=[w for _, w in sorted(saliency[i], key=lambda s: (-s[0], s[1]))],
                      budget=max(1, int(constraints.max_share * len(probe.words[i]))), clean=gold[i], best=gold[i])
            for i in attacked}


def _step(probe: Probe, states: dict[int, _State], candidates: Candidates, similarity: Similarity,
          constraints: Constraints, rng: random.Random) -> None:
    """Try the next word of every example still under attack; keep each one's best candidate."""
    requests: list[Request] = []
    for i, state in states.items():
        if state.done:
            continue
        if state.at >= len(state.order) or len(state.replacements) >= state.budget:
            state.done = True
            continue
        word = state.order[state.at]
        state.at += 1
        for candidate in candidates(probe.words[i][word].text, rng):
            requests.append((i, {**state.replacements, word: candidate}))
    if not requests:
        return
    values, predictions = probe.run(requests)
    improving = [k for k, (i, _) in enumerate(requests) if values[k] < states[i].best]
    similar = similarity.scores([(input_text(probe.value(requests[k][0], {})),
                                  input_text(probe.value(*requests[k]))) for k in improving])
    for k, score in sorted(zip(improving, similar), key=lambda pair: values[pair[0]]):
        i, replacements = requests[k]
        state = states[i]
        if score < constraints.min_similarity or state.done or len(replacements) == len(state.replacements):
            continue
        state.replacements, state.best, state.prediction = replacements, values[k], predictions[k]
        if not probe.view.correct(predictions[k], probe.examples[i]):
            state.done = state.success = True


def _result(probe: Probe, i: int, state: _State, before: dict[str, Any]) -> AttackResult:
    return AttackResult(row=probe.examples[i].row, original=probe.value(i, {}),
                        adversarial=probe.value(i, state.replacements), success=state.success,
                        changed=len(state.replacements), words=len(probe.words[i]), queries=int(probe.queries[i]),
                        before=before, after=state.prediction)
