"""Frozen encoder embeddings + logistic regression: what the pretrained sentence embedding already knows.

The encoder (``model.name``) is not changed, so the run saves only the head; like an adapter run,
it loads the encoder again from ``model.name``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

import numpy as np

from finegrain.methods.estimators.base import EstimatorContext, check_single_label_classification
from finegrain.methods.estimators.encoding import HeadParams
from finegrain.methods.estimators.frozen import FrozenEncoderHead
from finegrain.registry import METHODS

if TYPE_CHECKING:
    from finegrain.tasks.base import Task

__all__ = ["EmbeddingsLr", "EmbeddingsLrParams"]


class EmbeddingsLrParams(HeadParams):
    """Only the head has parameters: the encoder is the run's model, frozen."""


@METHODS.register("embeddings-lr", aliases=("embeddings_lr", "embedding-lr", "frozen-embeddings"))
class EmbeddingsLr(FrozenEncoderHead):
    """Mean-pooled embeddings of the frozen encoder + logistic regression (scikit-learn)."""

    name: ClassVar[str] = "embeddings-lr"
    Params: ClassVar[type[EmbeddingsLrParams]] = EmbeddingsLrParams
    tasks: ClassVar[tuple[str, ...]] = ("classification",)

    def check_task(self, task: Task) -> None:
        check_single_label_classification(self, task)

    def features(self, texts: list[str], context: EstimatorContext) -> np.ndarray:
        return self.classifier.embed(texts, context)
