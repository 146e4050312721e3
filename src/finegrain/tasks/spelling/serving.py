"""What ``POST /v1/predict`` takes and answers for spelling correction: texts in; per text the text, its
corrected version and the edits (position, original, correction, probability) out.

Example:
    >>> SpellingPrediction(text="我门", corrected="我们", edits=[SpellingEdit(position=1, original="门",
    ...                    correction="们", probability=0.9)]).corrected
    '我们'
"""

from __future__ import annotations

from pydantic import BaseModel

from finegrain.tasks.outputs import ServingPayload, TextsRequest

__all__ = ["SpellingEdit", "SpellingPrediction", "PAYLOAD"]


class SpellingEdit(BaseModel):
    position: int  # the character's offset in the text
    original: str
    correction: str
    probability: float


class SpellingPrediction(BaseModel):
    text: str
    corrected: str
    edits: list[SpellingEdit]


PAYLOAD = ServingPayload(request=TextsRequest, items="texts", prediction=SpellingPrediction,
                         example='{"texts": ["我门今天去学校。"]}', view="edits")
