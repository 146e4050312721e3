"""SetFit-style few-shot classification: contrastive fine-tuning of the encoder on sentence pairs,
then logistic regression on its embeddings (Tunstall et al., 2022, "Efficient Few-Shot Learning
Without Prompts").

The pair fine-tuning runs through the one training loop (``train.lr``, ``train.batch_size``,
``train.max_steps``, warmup, precision and seed apply to it); ``epochs`` here counts passes over the
pairs, because ``train.epochs`` defaults to what classifier fine-tuning needs. Built for few-shot data:
there are ``2 x num_iterations`` pairs per training example. The run saves the fine-tuned encoder in
Hugging Face format (safetensors, tokenizer included) and the head as safetensors.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

import numpy as np
from pydantic import Field

from finegrain.methods.estimators.base import EstimatorContext, FitStats, check_single_label_classification
from finegrain.methods.estimators.encoding import HeadParams, MeanPooler, embed_texts, fit_head, tokenize
from finegrain.methods.estimators.linear_head import LinearHead
from finegrain.methods.estimators.pairs import CosinePairs, PairObjective, make_pairs
from finegrain.registry import METHODS

__all__ = ["SetFit", "SetFitParams"]


class SetFitParams(HeadParams):
    num_iterations: int = Field(20, ge=1)  # SetFit's default: 20 positive + 20 negative pairs per example
    epochs: float = Field(1.0, gt=0)  # passes over the pairs; SetFit's default is 1


@METHODS.register("setfit", aliases=("set-fit",))
class SetFit:
    """Few-shot: contrastive pair fine-tuning of the encoder (the loop), then logistic regression."""

    name: ClassVar[str] = "setfit"
    Params: ClassVar[type[SetFitParams]] = SetFitParams
    kind: ClassVar[str] = "estimator"
    tasks: ClassVar[tuple[str, ...]] = ("classification",)
    mergeable: ClassVar[bool] = False
    default_lr: ClassVar[float] = 2e-5  # SetFit's body learning rate

    def __init__(self, params: SetFitParams | None = None):
        self.params = params or SetFitParams()
        self.pooler: MeanPooler | None = None
        self.tokenizer: Any = None
        self.head: LinearHead | None = None

    def check_task(self, task: Any) -> None:
        check_single_label_classification(self.name, task)

    def fit(self, texts: list[str], targets: np.ndarray, context: EstimatorContext) -> FitStats:
        self._load_encoder(context.model_path, context)
        pairs = make_pairs(tokenize(self.tokenizer, texts), targets, self.params.num_iterations, context.seed)
        context.fine_tune(CosinePairs(self.pooler), PairObjective(context.collate), pairs,
                          self.tokenizer.pad_token_id or 0, self.params.epochs)
        self.pooler.eval()
        self.head = fit_head(embed_texts(self.pooler, self.tokenizer, texts, context), targets, self.params,
                             context.seed)
        encoder = sum(p.numel() for p in self.pooler.parameters())
        return FitStats(encoder + self.head.parameters, encoder + self.head.parameters)

    def log_probs(self, texts: list[str], context: EstimatorContext) -> np.ndarray:
        return self.head.log_probs(embed_texts(self.pooler, self.tokenizer, texts, context))

    def save(self, directory: Path) -> None:
        self.pooler.encoder.save_pretrained(directory)
        self.tokenizer.save_pretrained(directory)
        self.head.save(directory / "head.safetensors")

    def load(self, directory: Path, context: EstimatorContext) -> SetFit:
        self._load_encoder(str(directory), context)
        self.pooler.eval()
        self.head = LinearHead.load(directory / "head.safetensors")
        return self

    def _load_encoder(self, path: str, context: EstimatorContext) -> None:
        self.tokenizer = context.load_tokenizer(path)
        self.pooler = MeanPooler(context.load_encoder(path), self.params.normalize)
