"""What an explanation holds: the words of one input with their offsets, and one score per word for each
target explained (a class; each entity of a NER prediction).

Example:
    >>> scores = TargetScores(target="pos", name="pos", scores=[0.5, -0.1])
    >>> Explanation({"text": "good day"}, ["good", "day"], [[0, 4], [5, 8]], ["text", "text"],
    ...             "occlusion", [scores], 0.01).to_dict()["targets"][0]["scores"]
    [0.5, -0.1]
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

__all__ = ["TargetScores", "Explanation"]


@dataclass
class TargetScores:
    """One target's attributions: a score per word (positive: toward the target), in word order."""

    target: str  # the class, or the entity's type
    name: str  # as shown: "pos", "PER 'Ada Lovelace'"
    scores: list[float]
    span: list[int] | None = None  # an entity's words [start, end)
    delta: float | None = None  # integrated gradients' convergence delta (sum of scores minus output change)
    faithfulness: dict[str, float | None] | None = None  # this explanation's own AOPCs and Kendall tau, when measured


@dataclass
class Explanation:
    """The explanation of one input."""

    input: dict[str, Any]  # the input as ``finegrain predict`` echoes it
    words: list[str]
    offsets: list[list[int] | None]  # each word's [start, end) in its text; None for a given token list
    fields: list[str]  # the text each word is in ("text", "text_pair", "tokens")
    explainer: str
    targets: list[TargetScores]
    seconds: float  # time spent explaining this input (its share of the batch)
    windows: int = 1  # model inputs it was read in: more than one for a text longer than the model's maximum
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready, with the input's own fields first (as ``finegrain predict`` writes them)."""
        data = asdict(self)
        return {**data.pop("input"), **data}
