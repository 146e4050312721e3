"""``explain``: attributions for a run's predictions, one :class:`Explanation` per input.

Explainers are chosen by name: ``integrated-gradients`` and ``gradient-x-input`` (gradients on the input
embeddings) and ``attention-rollout`` read the PyTorch model, so they are for runs the training loop
trained; ``occlusion`` (leave one word out) needs only the run's probabilities, so it explains every method,
fitted ones (tfidf, embeddings-lr, setfit, tfidf-pair, bi-encoder) and ONNX exports included.

Example:
    >>> predictor = finegrain.load("runs/reviews")  # doctest: +SKIP
    >>> explain(predictor, ["a great film"], "integrated-gradients")[0].targets[0].scores  # doctest: +SKIP
    [0.41, 0.02, 0.37]
"""

from __future__ import annotations

import importlib
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from finegrain.data.inputs import kind_of
from finegrain.data.split import Split
from finegrain.errors import ConfigError, DataError, ModelError
from finegrain.explain.explanation import Explanation, TargetScores
from finegrain.explain.gradients import Row, gradient_scores, rollout_scores, rows_for
from finegrain.explain.perturbation import Erased, Scorer, token_strings
from finegrain.registry import Registry
from finegrain.tasks.explaining import Target, Word
from finegrain.training.logits_source import ModelLogits

if TYPE_CHECKING:
    from finegrain.training.predictor import Predictor

__all__ = ["EXPLAINERS", "Explainer", "explain", "usable_explainers", "Prepared", "prepare"]

Scores = dict[tuple[int, int], np.ndarray]  # (example, target index) -> one score per word
Deltas = dict[tuple[int, int], float]


@dataclass(frozen=True)
class Explainer:
    """How attributions are computed; ``needs_model``: it reads the PyTorch model, not only probabilities."""

    name: str
    needs_model: bool
    run: Callable[[Predictor, Prepared, int, str | None], tuple[Scores, Deltas]]  # (predictor, prepared, steps, erasure)


@dataclass
class Prepared:
    """The inputs as the task reads them, their predictions' targets and their words."""

    inputs: list[Any]
    split: Split
    targets: list[list[Target]]
    words: list[list[Word]]
    features: list[dict[str, Any]] | None = None  # model inputs with word_ids, for the explainers that read the model


def _model_rows(predictor: Predictor, prepared: Prepared) -> tuple[ModelLogits, list[Row]]:
    source: ModelLogits = predictor.source
    features = prepared.features or []
    return source, rows_for(features, prepared.targets, len(predictor.labels), predictor.task.explaining.per_word)


def _gradients(integrated: bool):
    def run(predictor: Predictor, prepared: Prepared, steps: int, erasure: str | None) -> tuple[Scores, Deltas]:
        source, rows = _model_rows(predictor, prepared)
        if not rows:
            return {}, {}
        n_words = [len(words) for words in prepared.words]
        scores, deltas = gradient_scores(source, predictor.task.explaining, rows, n_words, integrated=integrated,
                                         steps=steps)
        return scores, deltas if integrated else {}
    return run


def _rollout(predictor: Predictor, prepared: Prepared, steps: int, erasure: str | None) -> tuple[Scores, Deltas]:
    source, rows = _model_rows(predictor, prepared)
    n_words = [len(words) for words in prepared.words]
    return (rollout_scores(source, predictor.task.explaining, rows, n_words) if rows else {}), {}


def _occlusion(predictor: Predictor, prepared: Prepared, steps: int, erasure: str | None) -> tuple[Scores, Deltas]:
    """Leave one word out: the target's probability minus its probability with the word erased."""
    scorer = scorer_for(predictor, prepared.split, erasure)
    keys, requests = [], []
    for example, targets in enumerate(prepared.targets):
        for index, target in enumerate(targets):
            keys.append((example, index, len(prepared.words[example])))
            requests.append(Erased(example, frozenset(), target))
            requests.extend(Erased(example, frozenset({w}), target) for w in range(len(prepared.words[example])))
    values, scores, at = scorer.scores(requests), {}, 0
    for example, index, n in keys:
        scores[(example, index)] = values[at] - values[at + 1:at + 1 + n]
        at += 1 + n
    return scores, {}


EXPLAINERS = Registry[Explainer]("explainer")
EXPLAINERS.register("integrated-gradients", Explainer("integrated-gradients", True, _gradients(True)), aliases=("ig",))
EXPLAINERS.register("gradient-x-input", Explainer("gradient-x-input", True, _gradients(False)),
                    aliases=("gradient-times-input", "gxi"))
EXPLAINERS.register("occlusion", Explainer("occlusion", False, _occlusion), aliases=("leave-one-out", "loo"))
EXPLAINERS.register("attention-rollout", Explainer("attention-rollout", True, _rollout), aliases=("rollout",))


def usable_explainers(predictor: Predictor) -> list[str]:
    """The explainers the run can use: all for a PyTorch model, occlusion for the others."""
    model = isinstance(predictor.source, ModelLogits)
    return [name for name, entry in EXPLAINERS.items() if model or not entry.needs_model]


def scorer_for(predictor: Predictor, split: Split, erasure: str | None) -> Scorer:
    """A :class:`Scorer` erasing as asked (None: the task's default)."""
    view = predictor.task.explaining
    tokenizer = predictor.source.encoding.tokenizer if isinstance(predictor.source, ModelLogits) else None
    return Scorer(predictor, view, split, erasure or view.default_erasure, token_strings(tokenizer))


def _as_list(inputs: Sequence[Any] | str) -> list[Any]:
    if isinstance(inputs, str):
        return [inputs]
    if hasattr(inputs, "tolist"):
        inputs = inputs.tolist()
    if not isinstance(inputs, (list, tuple)):
        raise DataError(f"explain takes a list of inputs, not {kind_of(inputs)}.", where="explain",
                        hint='e.g. explain(["great film", "awful day"]).')
    return list(inputs)


def prepare(predictor: Predictor, inputs: Sequence[Any] | str, target: str | None) -> Prepared:
    """The checked inputs, their predictions' targets, their words and (for a PyTorch model) model inputs."""
    values = _as_list(inputs)
    split = predictor.task.prediction_split(values)
    view = predictor.task.explaining
    words = [view.words(split, index) for index in range(len(split))]
    for index, found in enumerate(words):
        if not found:
            raise DataError(f"inputs[{index}] has no words to explain.", where="explain",
                            hint="give a text with at least one word.")
    features, logits = predictor.logits(split)
    predictions = predictor.task.decode(split, features, logits, predictor.labels)
    targets = [view.targets(prediction, list(predictor.labels.names), target) for prediction in predictions]
    prepared = Prepared(values, split, targets, words)
    if isinstance(predictor.source, ModelLogits):  # the model's own inputs: windows and unread words are known
        encoding = predictor.source.encoding
        prepared.features = view.encode(split, encoding.tokenizer, predictor.labels, encoding.max_length)
    return prepared


def explain(predictor: Predictor, inputs: Sequence[Any] | str, method: str = "integrated-gradients",
            target: str | None = None, *, steps: int = 32, erasure: str | None = None) -> list[Explanation]:
    """One :class:`Explanation` per input, in input order (see the module docstring for ``method``).

    ``target``: the label to explain (NER: the entity type) in place of the predicted one; ``steps``:
    integrated gradients' interpolation steps; ``erasure``: how occlusion erases a word (delete, mask or
    pad; None: the task's default).
    """
    explainer = EXPLAINERS.get(method)
    usable = usable_explainers(predictor)
    if explainer.name not in usable:
        raise ModelError(f"explainer '{explainer.name}' reads the PyTorch model, but this run predicts with"
                         f" {predictor.runtime}.", where="--method",
                         hint=f"explainers this run can use: {', '.join(usable)}.")
    if steps < 1:
        raise ConfigError(f"steps must be at least 1 (got {steps}).", where="--steps", hint="e.g. --steps 32")
    if not _as_list(inputs):
        return []
    if explainer.needs_model:
        importlib.import_module("captum.attr")  # loaded before the clock starts: seconds are the explaining's
    started = time.perf_counter()
    prepared = prepare(predictor, inputs, target)
    scores, deltas = explainer.run(predictor, prepared, steps, erasure)
    seconds = (time.perf_counter() - started) / len(prepared.split)
    windows = Counter(feature["example"] for feature in prepared.features or [])
    return [_explanation(predictor, prepared, index, explainer.name, scores, deltas, seconds, windows[index] or 1)
            for index in range(len(prepared.split))]


def _explanation(predictor: Predictor, prepared: Prepared, index: int, name: str, scores: Scores, deltas: Deltas,
                 seconds: float, windows: int) -> Explanation:
    words = prepared.words[index]
    targets = [TargetScores(target=t.label, name=t.name, span=list(t.span) if t.span else None,
                            scores=[round(float(s), 6) for s in scores.get((index, k), np.zeros(len(words)))],
                            delta=round(deltas[(index, k)], 6) if (index, k) in deltas else None)
               for k, t in enumerate(prepared.targets[index])]
    return Explanation(input=predictor.task.input_fields(prepared.inputs[index]),
                       words=[w.text for w in words],
                       offsets=[[w.start, w.end] if w.start is not None else None for w in words],
                       fields=[w.field for w in words], explainer=name, targets=targets, seconds=round(seconds, 6),
                       windows=windows, notes=_notes(prepared, index, windows, predictor))


def _notes(prepared: Prepared, index: int, windows: int, predictor: Predictor) -> list[str]:
    """What the reader should know: a long input read in windows, words the model never read, no target."""
    notes = []
    if not prepared.targets[index]:
        notes.append("nothing to explain: the prediction has no target (no entity predicted).")
    if prepared.features is None:
        return notes
    max_length = predictor.source.encoding.max_length
    if windows > 1:
        notes.append(f"longer than the model's maximum of {max_length} tokens: explained in {windows} windows of"
                     " whole words, each read by the model on its own, as NER prediction reads long sentences.")
    read = {w for f in prepared.features if f["example"] == index for w in f["word_ids"] if w is not None}
    unread = len(prepared.words[index]) - len(read)
    if unread:
        notes.append(f"{unread} word(s) beyond the model's maximum of {max_length} tokens were not read by it:"
                     " their scores are 0.")
    return notes
