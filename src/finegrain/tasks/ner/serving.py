"""What ``POST /v1/predict`` takes and answers for NER: raw texts in, entity spans with character
offsets out (the word/tag alignment behind them stays internal).

Example:
    >>> NerPrediction(entities=[EntitySpan(type="PER", start=0, end=4, text="John", score=0.9)]).entities[0].end
    4
"""

from __future__ import annotations

from pydantic import BaseModel

from finegrain.tasks.ner.schemes import split_tag
from finegrain.tasks.outputs import ServingPayload, TextsRequest

__all__ = ["EntitySpan", "NerPrediction", "PAYLOAD"]


class EntitySpan(BaseModel):
    """One entity: its type, character offsets in the text (end exclusive), its text and mean score."""
    type: str
    start: int
    end: int
    text: str
    score: float


class NerPrediction(BaseModel):
    entities: list[EntitySpan]


def _legend(tags: list[str]) -> tuple[str, list[str]]:
    """The entity types of the run's tags, in the label map's order: the page colours spans by them."""
    types = dict.fromkeys(entity_type for _, entity_type in map(split_tag, tags) if entity_type is not None)
    return "entity types", list(types)


PAYLOAD = ServingPayload(request=TextsRequest, items="texts", prediction=NerPrediction,
                         example='{"texts": ["first text", "second text"]}', view="spans", legend=_legend)
