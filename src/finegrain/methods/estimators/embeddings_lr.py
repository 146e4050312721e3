"""Frozen encoder embeddings + logistic regression: what the pretrained sentence embedding already knows.

The encoder (``model.name``) is not changed, so the run saves only the head; like an adapter run,
it loads the encoder again from ``model.name``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from finegrain.methods.estimators.base import EstimatorContext, FitStats, check_single_label_classification
from finegrain.methods.estimators.encoding import HeadParams, MeanPooler, embed_texts, fit_head
from finegrain.methods.estimators.linear_head import LinearHead
from finegrain.registry import METHODS

__all__ = ["EmbeddingsLr", "EmbeddingsLrParams"]


class EmbeddingsLrParams(HeadParams):
    """Only the head has parameters: the encoder is the run's model, frozen."""


@METHODS.register("embeddings-lr", aliases=("embeddings_lr", "embedding-lr", "frozen-embeddings"))
class EmbeddingsLr:
    """Mean-pooled embeddings of the frozen encoder + logistic regression (scikit-learn)."""

    name: ClassVar[str] = "embeddings-lr"
    Params: ClassVar[type[EmbeddingsLrParams]] = EmbeddingsLrParams
    kind: ClassVar[str] = "estimator"
    tasks: ClassVar[tuple[str, ...]] = ("classification",)
    mergeable: ClassVar[bool] = False

    def __init__(self, params: EmbeddingsLrParams | None = None):
        self.params = params or EmbeddingsLrParams()
        self.pooler: MeanPooler | None = None
        self.tokenizer: Any = None
        self.head: LinearHead | None = None

    def check_task(self, task: Any) -> None:
        check_single_label_classification(self.name, task)

    def fit(self, texts: list[str], targets: np.ndarray, context: EstimatorContext) -> FitStats:
        self._load_encoder(context)
        self.head = fit_head(embed_texts(self.pooler, self.tokenizer, texts, context), targets, self.params,
                             context.seed)
        encoder = sum(p.numel() for p in self.pooler.parameters())
        return FitStats(self.head.parameters, encoder + self.head.parameters)

    def log_probs(self, texts: list[str], context: EstimatorContext) -> np.ndarray:
        return self.head.log_probs(embed_texts(self.pooler, self.tokenizer, texts, context))

    def save(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self.head.save(directory / "head.safetensors")

    def load(self, directory: Path, context: EstimatorContext) -> EmbeddingsLr:
        self._load_encoder(context)
        self.head = LinearHead.load(directory / "head.safetensors")
        return self

    def _load_encoder(self, context: EstimatorContext) -> None:
        self.tokenizer = context.load_tokenizer(context.model_path)
        self.pooler = MeanPooler(context.load_encoder(context.model_path), self.params.normalize).eval()
        self.pooler.requires_grad_(False)
