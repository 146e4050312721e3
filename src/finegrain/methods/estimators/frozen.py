"""What the fitted methods on a frozen base encoder share (embeddings-lr, bi-encoder): the encoder is the run's
base model, unchanged, so a run saves only the logistic-regression head and loads the encoder again from
``model.name``, like an adapter run. Each method says only which features it computes from the embeddings.
"""

from __future__ import annotations

from abc import abstractmethod
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from finegrain.methods.base import EncoderSource, FittedMethod
from finegrain.methods.estimators.base import EstimatorContext, FitStats
from finegrain.methods.estimators.encoding import HeadParams, SentenceClassifier
from finegrain.methods.estimators.linear_head import fit_logistic_regression

__all__ = ["FrozenEncoderHead"]


class FrozenEncoderHead(FittedMethod):
    """Logistic regression on features of the frozen base encoder's embeddings (``features``)."""

    Params: ClassVar[type[HeadParams]]
    encoder: ClassVar[EncoderSource] = "base"  # only the head is saved: the frozen encoder is the base model

    def __init__(self, params: HeadParams | None = None):
        self.params = params or self.Params()
        self.classifier: SentenceClassifier | None = None

    @abstractmethod
    def features(self, examples: list[Any], context: EstimatorContext) -> np.ndarray:
        """(len(examples), d) features of the examples, from ``self.classifier.embed``."""

    def fit(self, examples: list[Any], targets: np.ndarray, context: EstimatorContext) -> FitStats:
        self.classifier = SentenceClassifier.frozen(context, normalize=self.params.normalize)
        self.classifier.head = fit_logistic_regression(
            self.features(examples, context), targets, c=self.params.C, class_weight=self.params.class_weight,
            max_iter=self.params.max_iter, seed=context.seed)
        head = self.classifier.head.parameters
        return FitStats(head, self.classifier.encoder_parameters + head)

    def log_probs(self, examples: list[Any], context: EstimatorContext) -> np.ndarray:
        return self.classifier.head.log_probs(self.features(examples, context))

    def save(self, directory: Path) -> None:
        self.classifier.save_head(directory)

    def load(self, directory: Path, context: EstimatorContext) -> FrozenEncoderHead:
        self.classifier = SentenceClassifier.frozen(context, normalize=self.params.normalize).load_head(directory)
        return self
