"""Explanations of a run's predictions, and how far to trust them: per-word attributions (integrated
gradients, gradient x input, occlusion, attention rollout) and their faithfulness (ERASER comprehensiveness
and sufficiency, Kendall tau against leave-one-out), always beside a random-attribution baseline.

Example:
    >>> import finegrain
    >>> predictor = finegrain.load("runs/reviews")  # doctest: +SKIP
    >>> explanations = predictor.explain(["a great film"], method="integrated-gradients")  # doctest: +SKIP
    >>> faithfulness(predictor, explanations)["explainer"]["comprehensiveness"]  # doctest: +SKIP
"""

from finegrain.explain.explanation import Explanation, TargetScores
from finegrain.explain.faithfulness import faithfulness
from finegrain.explain.runner import EXPLAINERS, explain, usable_explainers

__all__ = ["explain", "faithfulness", "Explanation", "TargetScores", "EXPLAINERS", "usable_explainers"]
