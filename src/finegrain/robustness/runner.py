"""``robustness``: a suite and attacks on a run's labelled examples, as one JSON-ready dict (``robustness.json``).

Example:
    >>> predictor = finegrain.load("runs/reviews-tfidf")  # doctest: +SKIP
    >>> result = robustness(predictor, split, default_suite(), ["char"], Constraints(), seed=0)  # doctest: +SKIP
    >>> result["invariance"]["typos"]["flip_rate"]  # doctest: +SKIP
"""

from __future__ import annotations

import re
import sys
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from finegrain.data.split import Split
from finegrain.errors import ConfigError, DataError, ModelError
from finegrain.robustness.attacks import Constraints, attack
from finegrain.robustness.candidates import ATTACKS, usable_attacks
from finegrain.robustness.metrics import EXAMPLES, attack_summary, rate, shown
from finegrain.robustness.perturbations import PERTURBATIONS, perturb
from finegrain.robustness.probe import evaluate_examples
from finegrain.robustness.similarity import Similarity
from finegrain.robustness.suites import DirTest, MftTest, Suite, check_labels
from finegrain.robustness.wordnet import MISSING_HINT, wordnet_available
from finegrain.tasks.robustness import Example, Sentence, robust_view

if TYPE_CHECKING:
    from finegrain.training.predictor import Predictor

__all__ = ["robustness", "check_attacks", "check_limit"]


def check_attacks(predictor: Predictor, names: Sequence[str]) -> list[str]:
    """The attacks' registered names; a ModelError for one this run or task cannot use, naming those it can."""
    names = [ATTACKS.canonical(name) for name in names]
    reason = robust_view(predictor.task, "RUN_DIR").no_attack
    if names and reason:
        raise ModelError(f"attacks cannot be used for {predictor.task.description}: {reason}.", where="--attack",
                         hint="leave --attack out; the invariance tests still run.")
    usable = usable_attacks(predictor)
    for name in names:
        if name not in usable:
            raise ModelError(f"the {name} attack reads the PyTorch model's input embeddings, but this run predicts"
                             f" with {predictor.runtime}.", where="--attack",
                             hint=f"attacks this run can use: {', '.join(usable)}.")
    return names


def robustness(predictor: Predictor, split: Split, suite: Suite, attacks: Sequence[str], constraints: Constraints,
               *, seed: int = 0) -> dict[str, Any]:
    """The suite's tests and the attacks on the labelled ``split`` (checked by the run's task)."""
    task = predictor.task
    check_labels(suite, predictor.labels.names, robust_view(task, "RUN_DIR").classes, task.name)
    attacks = check_attacks(predictor, attacks)
    started = time.perf_counter()
    examples = task.robustness.examples(split)
    predictions, metrics = evaluate_examples(predictor, examples)
    similarity = Similarity(constraints.min_similarity) if attacks else None
    result: dict[str, Any] = {
        "split": split.source, "inputs": len(examples), "seed": seed, "suite": suite.name, "task": task.name,
        "method": predictor.config.method.name, "runtime": predictor.runtime, "primary_metric": task.primary_metric,
        "clean": {"score": metrics.get(task.primary_metric), "metrics": _scalars(metrics)},
        "invariance": {name: _invariance(predictor, examples, predictions, name, seed, metrics.get(task.primary_metric))
                       for name in suite.invariance},
        "directional": [_directional(predictor, examples, predictions, test) for test in suite.directional],
        "functionality": [_functionality(predictor, test) for test in suite.functionality],
        "constraints": {"max_share": constraints.max_share, "min_similarity": constraints.min_similarity},
        "attacks": {name: _attack(predictor, examples, name, constraints, seed, similarity) for name in attacks},
    }
    result["seconds"] = round(time.perf_counter() - started, 3)
    return result


def _scalars(metrics: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in metrics.items() if isinstance(value, (int, float)) and value is not None}


def _invariance(predictor: Predictor, examples: list[Example], predictions: list[dict[str, Any]], name: str,
                seed: int, clean_score: float | None) -> dict[str, Any]:
    """One perturbation: the score on the perturbed inputs, and how often the prediction changed."""
    perturbation = PERTURBATIONS.get(name)
    token_level = predictor.task.robustness.token_level
    out: dict[str, Any] = {"description": perturbation.description}
    if not (perturbation.tokens if token_level else perturbation.text):
        return {**out, "skipped": f"does not apply to {predictor.task.description}"}
    try:
        pairs = [(k, changed) for k, example in enumerate(examples)
                 if (changed := perturb(perturbation, example, seed)) is not None]
    except DataError as error:  # misspellings: codespell's wheel neither cached nor downloadable
        print(f"robustness: {name} skipped: {error.message}", file=sys.stderr)
        return {**out, "skipped": error.message}
    if not pairs:
        return {**out, "inputs": 0, "skipped": "applies to none of the inputs"}
    changed_predictions, metrics = evaluate_examples(predictor, [example for _, example in pairs])
    view = predictor.task.robustness
    flips = [(k, example, after) for (k, example), after in zip(pairs, changed_predictions)
             if view.changed(predictions[k], examples[k], after, example)]
    primary = predictor.task.primary_metric
    clean = clean_score if len(pairs) == len(examples) else \
        evaluate_examples(predictor, [examples[k] for k, _ in pairs])[1].get(primary)
    return {**out, "inputs": len(pairs), "score": metrics.get(primary), "clean_score_same_inputs": clean,
            "flip_rate": rate(len(flips), len(pairs)),
            "rows": {"tested": [k for k, _ in pairs], "failed": [k for k, _, _ in flips]},
            "failures": [{"row": examples[k].row + 1, "original": view.input(examples[k]), "perturbed": view.input(e),
                          "before": shown(predictions[k]), "after": shown(after)} for k, e, after in flips[:EXAMPLES]]}


def _edited(example: Example, edit: dict[str, Any]) -> Example | None:
    """The first text with the test's edit applied, or None when the edit does not change it."""
    text = example.fields[0].text()
    new = edit.get("prepend", "") + text + edit.get("append", "")
    for old, replacement in edit.get("replace", {}).items():
        new = re.sub(rf"\b{re.escape(str(old))}\b", str(replacement), new)
    if new == text:
        return None
    return example.with_fields([Sentence.from_text(new), *example.fields[1:]])


def _directional(predictor: Predictor, examples: list[Example], predictions: list[dict[str, Any]],
                 test: DirTest) -> dict[str, Any]:
    """The edited inputs' probability of the label against the originals', in the expected direction."""
    view = predictor.task.robustness
    pairs = [(k, changed) for k, example in enumerate(examples)
             if (test.when is None or example.label == test.when) and (changed := _edited(example, test.edit))]
    after = predictor.predict([view.input(example) for _, example in pairs]) if pairs else []
    failures = []
    for (k, example), prediction in zip(pairs, after):
        before_p, after_p = predictions[k]["scores"][test.label], prediction["scores"][test.label]
        move = after_p - before_p
        violated = {"up": move <= test.tolerance, "down": move >= -test.tolerance,
                    "not_up": move > test.tolerance, "not_down": move < -test.tolerance}[test.direction]
        if violated:
            failures.append({"row": examples[k].row + 1, "original": view.input(examples[k]),
                             "edited": view.input(example), "before": round(before_p, 4), "after": round(after_p, 4)})
    return {"name": test.name, "label": test.label, "direction": test.direction, "inputs": len(pairs),
            "violation_rate": rate(len(failures), len(pairs)), "failures": failures[:EXAMPLES]}


def _functionality(predictor: Predictor, test: MftTest) -> dict[str, Any]:
    predictions = predictor.predict(list(test.texts))
    failures = [{"input": text, "expected": test.label, "predicted": shown(prediction)}
                for text, prediction in zip(test.texts, predictions) if prediction["label"] != test.label]
    return {"name": test.name, "label": test.label, "inputs": len(test.texts),
            "failure_rate": rate(len(failures), len(test.texts)), "failures": failures[:EXAMPLES]}


def _attack(predictor: Predictor, examples: list[Example], name: str, constraints: Constraints, seed: int,
            similarity: Similarity | None) -> dict[str, Any]:
    entry = ATTACKS.get(name)
    if entry.needs_wordnet and not wordnet_available():
        message = f"WordNet is not installed: {MISSING_HINT}"
        print(f"robustness: the {name} attack is skipped. {message}", file=sys.stderr)
        return {"description": entry.description, "skipped": message}
    started = time.perf_counter()
    results = attack(predictor, examples, name, constraints, seed=seed, similarity=similarity)
    return {"description": entry.description, **attack_summary(results, len(examples)),
            "seconds": round(time.perf_counter() - started, 3),
            "rows": {"tested": [r.row for r in results], "failed": [r.row for r in results if r.success]}}


def check_limit(split: Split, limit: int | None, where: str, stratify: str | None = None, seed: int = 0) -> Split:
    """``limit`` examples of the split drawn at random with ``seed`` (class proportions of ``stratify`` kept, the
    split's order kept, the same examples every time): a split sorted by label, as some built-ins are, must
    not yield one class; a DataError for a limit beyond its size."""
    if limit is None:
        return split
    if limit < 1:
        raise ConfigError(f"--limit must be at least 1 (got {limit}).", where="--limit", hint="e.g. --limit 200")
    if limit > len(split):
        raise DataError(f"--limit {limit} is more than the {len(split)} examples of {where}.", where="--limit",
                        hint=f"use --limit {len(split)} or less, or leave it out to use them all.")
    from finegrain.data.sampling import stratified_subsample

    frame = stratified_subsample(split.frame, stratify, limit, seed).iloc[:limit]
    return Split(split.name, frame.reset_index(drop=True), split.source)
