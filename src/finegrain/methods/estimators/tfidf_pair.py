"""TF-IDF of both texts of a pair, their cosine and their difference, into logistic regression: the classic
matching baseline (question matching, paraphrase, NLI) that a fine-tuned cross-encoder should beat.

Each text is vectorised twice, by word 1-2 grams and by character 1-3 grams inside word boundaries (the
characters carry languages written without spaces, such as Chinese). For each vectoriser the features are
``[a, b, |a - b|, a * b, cos(a, b)]``: ``a`` and ``b`` keep what each side says (NLI is not symmetric), the
difference and the product what they do not and do share. Saved without pickle: both vocabularies as JSON,
their idf and the head's weights as safetensors.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar, Literal

import numpy as np
from pydantic import Field, field_validator

from finegrain.config import Section
from finegrain.methods.base import EncoderSource, FittedMethod
from finegrain.methods.estimators.base import EstimatorContext, FitStats
from finegrain.methods.estimators.linear_head import LinearHead, fit_logistic_regression
from finegrain.methods.estimators.tfidf import check_ngrams, load_vectorizer, make_vectorizer, save_vectorizer
from finegrain.registry import METHODS
from finegrain.searchable import searchable

__all__ = ["TfidfPair", "TfidfPairParams", "pair_features"]

_ANALYZERS = {"word": "word", "char": "char_wb"}  # the two views of a text, by their file prefix


class TfidfPairParams(Section):
    word_ngrams: tuple[int, int] = (1, 2)  # bigrams catch negation ("not good")
    char_ngrams: tuple[int, int] = (1, 3)  # 1-3 characters cover most Chinese words, and English typos
    # drop n-grams seen in fewer training texts (a smaller model)
    min_df: int = Field(1, ge=1, json_schema_extra=searchable(1, 3))
    sublinear_tf: bool = True  # 1 + log(tf): a word said twice is not twice the evidence
    # inverse L2 strength, as for tfidf: l2-normalised sparse rows need little
    C: float = Field(10.0, gt=0, json_schema_extra=searchable(0.1, 100, log=True))
    # balanced: weights ~ 1/class frequency
    class_weight: Literal["none", "balanced"] = Field("none", json_schema_extra=searchable(every_choice=True))
    max_iter: int = Field(1000, ge=1)

    @field_validator("word_ngrams", "char_ngrams")
    @classmethod
    def _check_ngrams(cls, value: tuple[int, int], info: Any) -> tuple[int, int]:
        return check_ngrams(info.field_name, value)


def pair_features(vectorizer: Any, pairs: list[tuple[str, str]]) -> Any:
    """``[a, b, |a - b|, a * b, cos(a, b)]`` of each pair under one fitted vectorizer, a sparse (n, 4d + 1)
    matrix; its rows are l2-normalised, so the cosine is the dot product."""
    from scipy import sparse

    first = vectorizer.transform([a for a, _ in pairs])
    second = vectorizer.transform([b for _, b in pairs])
    product = first.multiply(second).tocsr()
    cosine = sparse.csr_matrix(np.asarray(product.sum(axis=1)))
    return sparse.hstack([first, second, abs(first - second), product, cosine], format="csr")


@METHODS.register("tfidf-pair", aliases=("tf-idf-pair", "tfidf-pair-lr"))
class TfidfPair(FittedMethod):
    """Word and character TF-IDF of both texts, their cosine and difference + logistic regression (pairs)."""

    name: ClassVar[str] = "tfidf-pair"
    Params: ClassVar[type[TfidfPairParams]] = TfidfPairParams
    tasks: ClassVar[tuple[str, ...]] = ("pair-classification",)
    encoder: ClassVar[EncoderSource] = "none"  # no encoder at all

    def __init__(self, params: TfidfPairParams | None = None):
        self.params = params or TfidfPairParams()
        self.vectorizers: dict[str, Any] = {}
        self.head: LinearHead | None = None

    def fit(self, pairs: list[tuple[str, str]], targets: np.ndarray, context: EstimatorContext) -> FitStats:
        texts = [text for pair in pairs for text in pair]
        self.vectorizers = {view: self._vectorizer(view).fit(texts) for view in _ANALYZERS}
        self.head = fit_logistic_regression(self._features(pairs), targets, c=self.params.C,
                                            class_weight=self.params.class_weight, max_iter=self.params.max_iter,
                                            seed=context.seed)
        return FitStats(self.head.parameters, self.head.parameters)

    def log_probs(self, pairs: list[tuple[str, str]], context: EstimatorContext) -> np.ndarray:
        return self.head.log_probs(self._features(pairs))

    def save(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        for view, vectorizer in self.vectorizers.items():
            save_vectorizer(vectorizer, directory, prefix=f"{view}-")
        self.head.save(directory / "head.safetensors")

    def load(self, directory: Path, context: EstimatorContext) -> TfidfPair:
        self.vectorizers = {view: load_vectorizer(directory, lambda vocabulary, view=view: self._vectorizer(
            view, vocabulary), prefix=f"{view}-") for view in _ANALYZERS}
        self.head = LinearHead.load(directory / "head.safetensors")
        return self

    def _features(self, pairs: list[tuple[str, str]]) -> Any:
        from scipy import sparse

        return sparse.hstack([pair_features(self.vectorizers[view], pairs) for view in _ANALYZERS], format="csr")

    def _vectorizer(self, view: str, vocabulary: dict[str, int] | None = None) -> Any:
        ngrams = self.params.word_ngrams if view == "word" else self.params.char_ngrams
        return make_vectorizer(_ANALYZERS[view], ngrams, min_df=self.params.min_df,
                               sublinear_tf=self.params.sublinear_tf, vocabulary=vocabulary)
