"""A frozen bi-encoder for text pairs: each text embedded alone by the run's encoder (u, v), then logistic
regression on ``[u, v, |u - v|, u * v, cos(u, v)]`` (the features of Sentence-BERT's classification
objective, Reimers and Gurevych 2019, plus the cosine a retrieval system would rank by).

The encoder (``model.name``) is not changed, so the run saves only the head and loads the encoder again
from ``model.name``, like embeddings-lr. Chinese pairs need an encoder whose vocabulary covers Chinese
(``model.name=zh-small``).
"""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

import numpy as np

from finegrain.methods.base import FittedMethod
from finegrain.methods.estimators.base import EstimatorContext, FitStats
from finegrain.methods.estimators.encoding import HeadParams, SentenceClassifier
from finegrain.methods.estimators.linear_head import fit_logistic_regression
from finegrain.registry import METHODS

__all__ = ["BiEncoder", "BiEncoderParams", "pair_embedding_features"]


class BiEncoderParams(HeadParams):
    """Only the head has parameters: the encoder is the run's model, frozen."""


def pair_embedding_features(first: np.ndarray, second: np.ndarray) -> np.ndarray:
    """``[u, v, |u - v|, u * v, cos(u, v)]`` per row of two (n, d) embedding matrices: (n, 4d + 1)."""
    norms = np.linalg.norm(first, axis=1) * np.linalg.norm(second, axis=1)
    cosine = np.divide((first * second).sum(axis=1), norms, out=np.zeros(len(first)), where=norms > 0)
    return np.hstack([first, second, np.abs(first - second), first * second, cosine[:, None]])


@METHODS.register("bi-encoder", aliases=("biencoder", "bi-encoder-lr"))
class BiEncoder(FittedMethod):
    """Frozen encoder embeddings of each text + logistic regression on [u, v, |u-v|, u*v, cos] (pairs)."""

    name: ClassVar[str] = "bi-encoder"
    Params: ClassVar[type[BiEncoderParams]] = BiEncoderParams
    tasks: ClassVar[tuple[str, ...]] = ("pair-classification",)
    encoder: ClassVar[str] = "base"  # only the head is saved: the frozen encoder is the base model

    def __init__(self, params: BiEncoderParams | None = None):
        self.params = params or BiEncoderParams()
        self.classifier: SentenceClassifier | None = None

    def fit(self, pairs: list[tuple[str, str]], targets: np.ndarray, context: EstimatorContext) -> FitStats:
        self.classifier = SentenceClassifier.frozen(context, normalize=self.params.normalize)
        self.classifier.head = fit_logistic_regression(
            self._features(pairs, context), targets, c=self.params.C, class_weight=self.params.class_weight,
            max_iter=self.params.max_iter, seed=context.seed)
        head = self.classifier.head.parameters
        return FitStats(head, head + self.classifier.encoder_parameters)

    def log_probs(self, pairs: list[tuple[str, str]], context: EstimatorContext) -> np.ndarray:
        return self.classifier.head.log_probs(self._features(pairs, context))

    def save(self, directory: Path) -> None:
        self.classifier.save_head(directory)

    def load(self, directory: Path, context: EstimatorContext) -> BiEncoder:
        self.classifier = SentenceClassifier.frozen(context, normalize=self.params.normalize).load_head(directory)
        return self

    def _features(self, pairs: list[tuple[str, str]], context: EstimatorContext) -> np.ndarray:
        """Both sides embedded in one pass (the batches mix them), then split again."""
        embedded = self.classifier.embed([a for a, _ in pairs] + [b for _, b in pairs], context)
        return pair_embedding_features(embedded[: len(pairs)], embedded[len(pairs):])
