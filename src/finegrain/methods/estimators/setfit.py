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
from typing import TYPE_CHECKING, ClassVar

import numpy as np
from pydantic import Field

from finegrain.methods.base import EncoderSource, FittedMethod
from finegrain.methods.estimators.base import EstimatorContext, FitStats, check_single_label_classification
from finegrain.methods.estimators.encoding import HeadParams, SentenceClassifier, tokenize
from finegrain.methods.estimators.pairs import CosinePairs, PairObjective, make_pairs
from finegrain.registry import METHODS
from finegrain.searchable import searchable

if TYPE_CHECKING:
    from finegrain.tasks.base import Task

__all__ = ["SetFit", "SetFitParams"]


class SetFitParams(HeadParams):
    # SetFit's default: 20 positive + 20 negative pairs per example
    num_iterations: int = Field(20, ge=1, json_schema_extra=searchable(5, 40))
    epochs: float = Field(1.0, gt=0)  # passes over the pairs; SetFit's default is 1


@METHODS.register("setfit", aliases=("set-fit",))
class SetFit(FittedMethod):
    """Few-shot: contrastive pair fine-tuning of the encoder (the loop), then logistic regression."""

    name: ClassVar[str] = "setfit"
    Params: ClassVar[type[SetFitParams]] = SetFitParams
    tasks: ClassVar[tuple[str, ...]] = ("classification",)
    encoder: ClassVar[EncoderSource] = "saved"  # the fine-tuned encoder is saved in the run
    default_lr: ClassVar[float] = 2e-5  # SetFit's body learning rate
    tiny_params: ClassVar[dict[str, int]] = {"num_iterations": 2}  # a few pairs: the tests train a few steps

    def __init__(self, params: SetFitParams | None = None):
        self.params = params or SetFitParams()
        self.classifier: SentenceClassifier | None = None

    def check_task(self, task: Task) -> None:
        check_single_label_classification(self, task)

    def fit(self, texts: list[str], targets: np.ndarray, context: EstimatorContext) -> FitStats:
        model = self.classifier = SentenceClassifier.from_encoder(context.model_path, context,
                                                                 normalize=self.params.normalize)
        pairs = make_pairs(tokenize(model.tokenizer, texts), targets, self.params.num_iterations, context.seed)
        context.fine_tune(CosinePairs(model.pooler), PairObjective(context.collate), pairs,
                          model.tokenizer.pad_token_id or 0, self.params.epochs)
        model.pooler.eval()
        model.fit_head(texts, targets, self.params, context)
        trained = model.encoder_parameters + model.head.parameters
        return FitStats(trained, trained)

    def log_probs(self, texts: list[str], context: EstimatorContext) -> np.ndarray:
        return self.classifier.log_probs(texts, context)

    def save(self, directory: Path) -> None:
        self.classifier.pooler.encoder.save_pretrained(directory)
        self.classifier.tokenizer.save_pretrained(directory)
        self.classifier.save_head(directory)

    def load(self, directory: Path, context: EstimatorContext) -> SetFit:
        self.classifier = SentenceClassifier.from_encoder(str(directory), context, normalize=self.params.normalize)
        self.classifier.load_head(directory)
        return self
