"""What ``POST /v1/predict`` takes and answers for classification: texts in, a label and scores out.

Example:
    >>> ClassificationPrediction(label="pos", scores={"neg": 0.1, "pos": 0.9}).label
    'pos'
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pydantic import BaseModel

from finegrain.tasks.outputs import ServingPayload, TextsRequest

if TYPE_CHECKING:
    from finegrain.tasks.base import Task

__all__ = ["ClassificationPrediction", "PAYLOAD"]


class ClassificationPrediction(BaseModel):
    """One text's answer: the top label and every label's score; ``labels`` (those at or above the
    threshold) too when the run is multi-label."""
    label: str
    labels: list[str] | None = None
    scores: dict[str, float]


def _info(task: Task) -> dict[str, Any]:
    return {"multi_label": not task.single_label}  # a classification run is single- or multi-label


PAYLOAD = ServingPayload(request=TextsRequest, items="texts", prediction=ClassificationPrediction,
                         example='{"texts": ["first text", "second text"]}', view="labels", info=_info)
