"""How far to trust a set of explanations: ERASER's comprehensiveness and sufficiency (DeYoung et al., 2020)
and the agreement with leave-one-out, each beside the same numbers for random attributions.

- comprehensiveness at k%: the target's probability minus its probability with the top-k% words erased (high:
  the words named matter); sufficiency at k%: minus its probability with only them kept (low: they suffice).
  AOPC averages over k = 1, 5, 10, 20, 50% (at least one word each).
- Kendall tau between the scores and leave-one-out's (the drop when each word alone is erased).

Erasure deletes words or replaces them with the mask or padding token (a switch; NER replaces).

Example:
    >>> top_words([0.1, 0.9, 0.5], 50)  # 50% of 3 words: 2 (rounded up)
    [1, 2]
    >>> round(aopc(0.9, [0.5, 0.7]), 6)  # the mean drop
    0.3
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
from scipy.stats import kendalltau

from finegrain.explain.explanation import Explanation
from finegrain.explain.perturbation import Erased
from finegrain.explain.runner import prepare, scorer_for
from finegrain.tasks.explaining import Target

if TYPE_CHECKING:
    from finegrain.training.predictor import Predictor

__all__ = ["PERCENTS", "top_words", "aopc", "kendall", "faithfulness"]

PERCENTS = (1, 5, 10, 20, 50)  # ERASER's bins of the top words
_SHOWN = 3  # the most and the least faithful explanations listed


def top_words(scores: Sequence[float], percent: float) -> list[int]:
    """The indices of the top ``percent``% words by score (at least one; ties: the earlier word first)."""
    count = max(1, math.ceil(len(scores) * percent / 100))
    order = sorted(range(len(scores)), key=lambda i: (-scores[i], i))
    return sorted(order[:count])


def aopc(full: float, erased: Sequence[float]) -> float:
    """The mean drop from ``full`` over the erasure levels."""
    return float(np.mean([full - value for value in erased]))


def kendall(scores: Sequence[float], reference: Sequence[float]) -> float | None:
    """Kendall's tau-b of two score lists; None where it is undefined (fewer than two words, a constant list)."""
    if len(scores) < 2:
        return None
    tau = kendalltau(scores, reference).statistic
    return None if np.isnan(tau) else float(tau)


def _requests(example: int, target: Target, scores: Sequence[float]) -> list[Erased]:
    """Erase the top k% (comprehensiveness), then all but them (sufficiency), for each k."""
    every = frozenset(range(len(scores)))
    tops = [frozenset(top_words(scores, percent)) for percent in PERCENTS]
    return ([Erased(example, top, target) for top in tops] + [Erased(example, every - top, target) for top in tops])


def _measures(full: float, values: np.ndarray, scores: Sequence[float], loo: np.ndarray) -> dict[str, Any]:
    n = len(PERCENTS)
    return {"comprehensiveness": aopc(full, values[:n]), "sufficiency": aopc(full, values[n:]),
            "kendall_tau": kendall(scores, loo), "comprehensiveness_at": [float(full - v) for v in values[:n]],
            "sufficiency_at": [float(full - v) for v in values[n:]]}


def faithfulness(predictor: Predictor, inputs: Sequence[Any], explanations: Sequence[Explanation], *,
                 target: str | None = None, erasure: str | None = None, seed: int = 0) -> dict[str, Any]:
    """The faithfulness of ``explanations`` (of ``inputs``, explained toward ``target``) beside random scores.

    Returns ``{"explainer", "erasure", "n", "percents", "rows": {NAME: {...}, "random": {...}}, "examples"}``,
    each row the mean comprehensiveness and sufficiency AOPC, their values per percent, the mean Kendall tau
    against leave-one-out and seconds per explanation; ``examples``: the most and least faithful explanations
    (input index, target, comprehensiveness). Each explanation's targets get their own numbers too.
    """
    prepared = prepare(predictor, inputs, target)
    scorer = scorer_for(predictor, prepared.split, erasure)
    rng = np.random.default_rng(seed)
    plan, requests = [], []
    for example, explanation in enumerate(explanations):
        for index, scored in enumerate(explanation.targets):
            target_ = prepared.targets[example][index]
            random = rng.random(len(scored.scores)).tolist()
            plan.append((explanation, scored, random, len(requests)))
            requests.append(Erased(example, frozenset(), target_))
            requests.extend(_requests(example, target_, scored.scores) + _requests(example, target_, random))
            requests.extend(Erased(example, frozenset({w}), target_) for w in range(len(scored.scores)))
    values = scorer.scores(requests)
    rows: dict[str, list[dict[str, Any]]] = {"explainer": [], "random": []}
    width = 2 * len(PERCENTS)
    for explanation, scored, random, at in plan:
        full, n = values[at], len(scored.scores)
        loo = full - values[at + 1 + 2 * width:at + 1 + 2 * width + n]
        own = _measures(full, values[at + 1:at + 1 + width], scored.scores, loo)
        rows["explainer"].append({**own, "seconds": explanation.seconds / max(1, len(explanation.targets))})
        rows["random"].append({**_measures(full, values[at + 1 + width:at + 1 + 2 * width], random, loo),
                               "seconds": None})
        scored.faithfulness = {key: own[key] for key in ("comprehensiveness", "sufficiency", "kendall_tau")}
    name = explanations[0].explainer if explanations else "explainer"
    return {"explainer": name, "erasure": scorer.erasure, "n": len(plan), "percents": list(PERCENTS),
            "rows": {name: _summary(rows["explainer"]), "random": _summary(rows["random"])},
            "examples": _extremes(explanations)}


def _extremes(explanations: Sequence[Explanation], count: int = _SHOWN) -> dict[str, list[dict[str, Any]]]:
    """The most and least faithful explanations by comprehensiveness AOPC: where to start reading."""
    ranked = sorted(({"input": index, "target": target.name,
                      "comprehensiveness": target.faithfulness["comprehensiveness"]}
                     for index, explanation in enumerate(explanations) for target in explanation.targets
                     if target.faithfulness), key=lambda item: -item["comprehensiveness"])
    return {"most": ranked[:count], "least": ranked[::-1][:count]}


def _summary(measures: list[dict[str, Any]]) -> dict[str, Any]:
    """Means over the explanations (Kendall tau over those where it is defined)."""
    def mean(values: list[Any]) -> float | None:
        kept = [v for v in values if v is not None]
        return round(float(np.mean(kept)), 6) if kept else None

    keys = ("comprehensiveness", "sufficiency", "kendall_tau", "seconds")
    summary = {key: mean([m[key] for m in measures]) for key in keys}
    for key in ("comprehensiveness_at", "sufficiency_at"):
        summary[key] = [round(float(v), 6) for v in np.mean([m[key] for m in measures], axis=0)] if measures else []
    return summary
