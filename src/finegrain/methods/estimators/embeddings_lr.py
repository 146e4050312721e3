"""Frozen encoder embeddings + logistic regression: what the pretrained sentence embedding already knows.

The encoder (``model.name``) is not changed, so the run saves only the head; like an adapter run,
it loads the encoder again from ``model.name``.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

import numpy as np

from finegrain.methods.base import FittedMethod
from finegrain.methods.estimators.base import EstimatorContext, FitStats, check_single_label_classification
from finegrain.methods.estimators.encoding import HeadParams, SentenceClassifier
from finegrain.registry import METHODS

if TYPE_CHECKING:
    from finegrain.tasks.base import Task

__all__ = ["EmbeddingsLr", "EmbeddingsLrParams"]


class EmbeddingsLrParams(HeadParams):
    """Only the head has parameters: the encoder is the run's model, frozen."""


@METHODS.register("embeddings-lr", aliases=("embeddings_lr", "embedding-lr", "frozen-embeddings"))
class EmbeddingsLr(FittedMethod):
    """Mean-pooled embeddings of the frozen encoder + logistic regression (scikit-learn)."""

    name: ClassVar[str] = "embeddings-lr"
    Params: ClassVar[type[EmbeddingsLrParams]] = EmbeddingsLrParams
    tasks: ClassVar[tuple[str, ...]] = ("classification",)
    encoder: ClassVar[str] = "base"  # only the head is saved: the frozen encoder is the base model

    def __init__(self, params: EmbeddingsLrParams | None = None):
        self.params = params or EmbeddingsLrParams()
        self.classifier: SentenceClassifier | None = None

    def check_task(self, task: Task) -> None:
        check_single_label_classification(self, task)

    def fit(self, texts: list[str], targets: np.ndarray, context: EstimatorContext) -> FitStats:
        self.classifier = SentenceClassifier.frozen(context, normalize=self.params.normalize)
        self.classifier.fit_head(texts, targets, self.params, context)
        head = self.classifier.head.parameters
        return FitStats(head, self.classifier.encoder_parameters + head)

    def log_probs(self, texts: list[str], context: EstimatorContext) -> np.ndarray:
        return self.classifier.log_probs(texts, context)

    def save(self, directory: Path) -> None:
        self.classifier.save_head(directory)

    def load(self, directory: Path, context: EstimatorContext) -> EmbeddingsLr:
        self.classifier = SentenceClassifier.frozen(context, normalize=self.params.normalize).load_head(directory)
        return self
