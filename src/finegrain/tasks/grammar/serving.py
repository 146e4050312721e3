"""What ``POST /v1/predict`` takes and answers for grammatical error correction: texts in; per text the text, its
corrected version and the edits out. Each edit spans characters of the text (``position`` to ``end``; an
insertion has ``end == position``), with the words written there (``original``, "" for an insertion), what
replaces them (``correction``, "" for a deletion), the tag that made it and its probability.

Example:
    >>> GrammarPrediction(text="He go", corrected="He goes", edits=[GrammarEdit(position=3, end=5, original="go",
    ...                   correction="goes", tag="$TRANSFORM_VERB_VB_VBZ", probability=0.9)]).corrected
    'He goes'
"""

from __future__ import annotations

from pydantic import BaseModel

from finegrain.tasks.outputs import ServingPayload, TextsRequest

__all__ = ["GrammarEdit", "GrammarPrediction", "PAYLOAD"]


class GrammarEdit(BaseModel):
    position: int  # the first character's offset in the text
    end: int  # the offset after the last character (== position: an insertion)
    original: str
    correction: str
    tag: str | None
    probability: float | None


class GrammarPrediction(BaseModel):
    text: str
    corrected: str
    edits: list[GrammarEdit]


PAYLOAD = ServingPayload(request=TextsRequest, items="texts", prediction=GrammarPrediction,
                         example='{"texts": ["She go to school every days."]}', view="edits")
