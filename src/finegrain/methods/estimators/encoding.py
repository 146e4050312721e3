"""Sentence embeddings from an encoder: masked mean pooling, optionally unit-normalised.

Shared by the encoder-based estimators (``embeddings-lr``, ``setfit``); the batching, device and
precision come from the training layer through :class:`EstimatorContext.embed`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal, NamedTuple

import numpy as np
import torch
import torch.nn.functional as F
from pydantic import Field

from finegrain.config import Section
from finegrain.methods.estimators.base import EstimatorContext
from finegrain.methods.estimators.linear_head import LinearHead, fit_logistic_regression
from finegrain.searchable import searchable

__all__ = ["HeadParams", "PooledOutput", "MeanPooler", "SentenceClassifier", "tokenize"]


class HeadParams(Section):
    """The logistic-regression head on sentence embeddings."""

    # all-MiniLM-L6-v2's own sentence embedding is the normalised mean (its sentence-transformers pipeline)
    normalize: bool = True
    # inverse L2 strength; scikit-learn's and SetFit's default
    C: float = Field(1.0, gt=0, json_schema_extra=searchable(0.01, 100, log=True))
    # balanced: weights ~ 1/class frequency
    class_weight: Literal["none", "balanced"] = Field("none", json_schema_extra=searchable(every_choice=True))
    max_iter: int = Field(1000, ge=1)


class PooledOutput(NamedTuple):
    logits: torch.Tensor  # named like a model output, so the loop and batched inference take it as is


class MeanPooler(torch.nn.Module):
    """``encoder(input_ids, attention_mask)`` -> the mean of its last hidden states over real tokens."""

    def __init__(self, encoder: torch.nn.Module, normalize: bool):
        super().__init__()
        self.encoder, self.normalize = encoder, normalize

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> PooledOutput:
        hidden = self.encoder(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state.float()
        mask = attention_mask.unsqueeze(-1).float()
        pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
        return PooledOutput(F.normalize(pooled, dim=-1) if self.normalize else pooled)


def tokenize(tokenizer: Any, texts: list[str]) -> list[dict[str, Any]]:
    """One feature (``input_ids``, truncated at the tokenizer's max length) per text."""
    return [{"input_ids": ids} for ids in tokenizer(texts, truncation=True)["input_ids"]]


class SentenceClassifier:
    """Tokenizer + mean-pooling encoder + logistic-regression head: what the encoder estimators predict with."""

    HEAD_FILE = "head.safetensors"

    def __init__(self, tokenizer: Any, pooler: MeanPooler):
        self.tokenizer, self.pooler = tokenizer, pooler
        self.head: LinearHead | None = None

    @classmethod
    def from_encoder(cls, path: str, context: EstimatorContext, *, normalize: bool) -> SentenceClassifier:
        """The encoder and tokenizer saved in the model folder ``path``, without a head yet."""
        return cls(context.load_tokenizer(path), MeanPooler(context.load_encoder(path), normalize).eval())

    @classmethod
    def frozen(cls, context: EstimatorContext, *, normalize: bool) -> SentenceClassifier:
        """The run's base encoder (``context.model_path``), frozen: what embeddings-lr and bi-encoder fit on."""
        classifier = cls.from_encoder(context.model_path, context, normalize=normalize)
        classifier.pooler.requires_grad_(False)
        return classifier

    @property
    def encoder_parameters(self) -> int:
        return sum(p.numel() for p in self.pooler.parameters())

    def embed(self, texts: list[str], context: EstimatorContext) -> np.ndarray:
        """(len(texts), hidden) embeddings in input order."""
        return context.embed(self.pooler, tokenize(self.tokenizer, texts), self.tokenizer.pad_token_id or 0)

    def fit_head(self, texts: list[str], targets: np.ndarray, params: HeadParams, context: EstimatorContext) -> None:
        self.head = fit_logistic_regression(self.embed(texts, context), targets, c=params.C,
                                            class_weight=params.class_weight, max_iter=params.max_iter,
                                            seed=context.seed)

    def log_probs(self, texts: list[str], context: EstimatorContext) -> np.ndarray:
        return self.head.log_probs(self.embed(texts, context))

    def save_head(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self.head.save(directory / self.HEAD_FILE)

    def load_head(self, directory: Path) -> SentenceClassifier:
        self.head = LinearHead.load(directory / self.HEAD_FILE)
        return self
