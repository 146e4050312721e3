"""What ``POST /v1/predict`` takes and answers for pair classification: pairs of texts in (each a two-item
list or an object with ``text`` and ``text_pair``), a label and every label's score out.

Example:
    >>> PairRequest(pairs=[["how do I pay", "where can I pay"], {"text": "a", "text_pair": "b"}]).pairs
    [('how do I pay', 'where can I pay'), ('a', 'b')]
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, StrictStr, field_validator

from finegrain.tasks.outputs import ServingPayload

__all__ = ["PairFields", "PairRequest", "PairPrediction", "PAYLOAD"]


class PairFields(BaseModel):
    """One pair written as an object."""
    model_config = ConfigDict(extra="forbid")
    text: StrictStr
    text_pair: StrictStr


class PairRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    pairs: list[tuple[StrictStr, StrictStr] | PairFields]

    @field_validator("pairs")
    @classmethod
    def _as_tuples(cls, pairs: list[tuple[str, str] | PairFields]) -> list[tuple[str, str]]:
        """Both spellings of a pair become one: what ``predict`` takes."""
        return [(pair.text, pair.text_pair) if isinstance(pair, PairFields) else pair for pair in pairs]


class PairPrediction(BaseModel):
    """One pair's answer: the top label and every label's score."""
    label: str
    scores: dict[str, float]


PAYLOAD = ServingPayload(request=PairRequest, items="pairs", prediction=PairPrediction,
                         example='{"pairs": [["first text", "second text"]]}', view="labels",
                         fields=tuple(PairFields.model_fields))
