"""What ``POST /v1/predict`` takes and answers for classification: texts in, a label and scores out.

Example:
    >>> ClassificationRequest(texts=["great film"]).texts
    ['great film']
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, StrictStr

from finegrain.tasks.outputs import ServingPayload

if TYPE_CHECKING:
    from finegrain.tasks.base import Task

__all__ = ["ClassificationRequest", "ClassificationPrediction", "PAYLOAD"]


class ClassificationRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    texts: list[StrictStr]


class ClassificationPrediction(BaseModel):
    """One text's answer: the top label and every label's score; ``labels`` (those at or above the
    threshold) too when the run is multi-label."""
    label: str
    labels: list[str] | None = None
    scores: dict[str, float]


def _info(task: Task) -> dict[str, Any]:
    return {"multi_label": not task.single_label}  # a classification run is single- or multi-label


PAYLOAD = ServingPayload(request=ClassificationRequest, items="texts", prediction=ClassificationPrediction,
                         example='{"texts": ["first text", "second text"]}', view="labels", info=_info)
