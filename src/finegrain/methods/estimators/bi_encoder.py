"""A frozen bi-encoder for text pairs: each text embedded alone by the run's encoder (u, v), then logistic
regression on ``[u, v, |u - v|, u * v, cos(u, v)]`` (the features of Sentence-BERT's classification
objective, Reimers and Gurevych 2019, plus the cosine a retrieval system would rank by).

The encoder (``model.name``) is not changed, so the run saves only the head and loads the encoder again
from ``model.name``, like embeddings-lr (both are a :class:`~finegrain.methods.estimators.frozen.FrozenEncoderHead`).
Chinese pairs need an encoder whose vocabulary covers Chinese (``model.name=zh-small``).
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from finegrain.methods.estimators.base import EstimatorContext
from finegrain.methods.estimators.encoding import HeadParams
from finegrain.methods.estimators.frozen import FrozenEncoderHead
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
class BiEncoder(FrozenEncoderHead):
    """Frozen encoder embeddings of each text + logistic regression on [u, v, |u-v|, u*v, cos] (pairs)."""

    name: ClassVar[str] = "bi-encoder"
    Params: ClassVar[type[BiEncoderParams]] = BiEncoderParams
    tasks: ClassVar[tuple[str, ...]] = ("pair-classification",)

    def features(self, pairs: list[tuple[str, str]], context: EstimatorContext) -> np.ndarray:
        """Both sides embedded in one pass (the batches mix them), then split again."""
        embedded = self.classifier.embed([a for a, _ in pairs] + [b for _, b in pairs], context)
        return pair_embedding_features(embedded[: len(pairs)], embedded[len(pairs):])
