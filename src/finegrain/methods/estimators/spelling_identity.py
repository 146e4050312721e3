"""``identity``: the spelling task's floor, a corrector that changes nothing. Registered so a study puts it beside
the trained models: its false-positive rate is 0 and its correction F1 is 0 by definition, and its
sentence-level accuracy is the share of test sentences that were already right.

Example:
    >>> IdentityCorrector().log_probs(["我门", "好"], None)[:, :, 1].tolist()  # no character proposed anywhere
    [[-1.0, -1.0], [-1.0, -1.0]]
"""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

import numpy as np

from finegrain.config import Section
from finegrain.methods.base import EncoderSource, FittedMethod
from finegrain.methods.estimators.base import EstimatorContext, FitStats
from finegrain.methods.estimators.spelling_ngram import unchanged_answers
from finegrain.registry import METHODS

__all__ = ["IdentityCorrector"]


class IdentityParams(Section):
    """No parameters: it leaves every text as it is."""


@METHODS.register("identity", aliases=("no-change",))
class IdentityCorrector(FittedMethod):
    """No change at all (spelling correction's floor: false-positive rate 0, correction F1 0)."""

    name: ClassVar[str] = "identity"
    Params: ClassVar[type[IdentityParams]] = IdentityParams
    tasks: ClassVar[tuple[str, ...]] = ("spelling",)
    encoder: ClassVar[EncoderSource] = "none"

    def __init__(self, params: IdentityParams | None = None):
        self.params = params or IdentityParams()

    def fit(self, texts: list[str], targets: np.ndarray, context: EstimatorContext) -> FitStats:
        return FitStats(0, 0)

    def log_probs(self, texts: list[str], context: EstimatorContext | None) -> np.ndarray:
        """The answers char-ngram gives where it proposes nothing, at every character."""
        return unchanged_answers(texts)

    def save(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        (directory / "identity.json").write_text("{}\n", encoding="utf-8")  # nothing fitted: a marker only

    def load(self, directory: Path, context: EstimatorContext) -> IdentityCorrector:
        return self
