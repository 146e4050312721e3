"""TF-IDF + logistic regression: the classic baseline that every fine-tuned encoder should beat.

Word 1-2 grams with sublinear tf by default; ``analyzer: char_wb`` uses character n-grams inside
word boundaries instead, which suits languages written without spaces (Chinese). Saved without
pickle: the vocabulary as JSON, idf and the head's weights as safetensors.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Literal

import numpy as np
from pydantic import Field, model_validator
from safetensors.numpy import load_file, save_file

from finegrain.config import Section
from finegrain.methods.base import EncoderSource, FittedMethod
from finegrain.methods.estimators.base import EstimatorContext, FitStats, check_single_label_classification
from finegrain.methods.estimators.linear_head import LinearHead, fit_logistic_regression
from finegrain.registry import METHODS
from finegrain.searchable import searchable

if TYPE_CHECKING:
    from finegrain.tasks.base import Task

__all__ = ["Tfidf", "TfidfParams", "check_ngrams", "make_vectorizer", "save_vectorizer", "load_vectorizer"]

_DEFAULT_NGRAMS = {"word": (1, 2), "char_wb": (1, 3)}  # bigrams catch negation; 1-3 chars cover most Chinese words


class TfidfParams(Section):
    analyzer: Literal["word", "char_wb"] = "word"  # char_wb: character n-grams (Chinese, typos)
    ngram_range: tuple[int, int] | None = None  # None: (1, 2) for words, (1, 3) for characters
    # drop n-grams seen in fewer training texts (a smaller model)
    min_df: int = Field(1, ge=1, json_schema_extra=searchable(1, 3))
    sublinear_tf: bool = True  # 1 + log(tf): a word said twice is not twice the evidence
    # inverse L2 strength; l2-normalised sparse rows need little (as benchmarks/)
    C: float = Field(10.0, gt=0, json_schema_extra=searchable(0.1, 100, log=True))
    # balanced: weights ~ 1/class frequency
    class_weight: Literal["none", "balanced"] = Field("none", json_schema_extra=searchable(every_choice=True))
    max_iter: int = Field(1000, ge=1)

    @model_validator(mode="after")
    def _check_ngrams(self) -> TfidfParams:
        if self.ngram_range is not None:
            check_ngrams("ngram_range", self.ngram_range)
        return self


def check_ngrams(name: str, ngrams: tuple[int, int]) -> tuple[int, int]:
    """An n-gram range [min, max] with 1 <= min <= max; a ValueError (the config's message) otherwise."""
    if not 1 <= ngrams[0] <= ngrams[1]:
        raise ValueError(f"{name} must be [min, max] with 1 <= min <= max (got {list(ngrams)})")
    return ngrams


def make_vectorizer(analyzer: str, ngrams: tuple[int, int], *, min_df: int, sublinear_tf: bool,
                    vocabulary: dict[str, int] | None = None) -> Any:
    """A scikit-learn TfidfVectorizer (l2-normalised rows); with ``vocabulary``, one to load idf into."""
    from sklearn.feature_extraction.text import TfidfVectorizer

    return TfidfVectorizer(analyzer=analyzer, ngram_range=tuple(ngrams), min_df=min_df, sublinear_tf=sublinear_tf,
                           vocabulary=vocabulary, dtype=np.float64)


def save_vectorizer(vectorizer: Any, directory: Path, prefix: str = "") -> None:
    """The fitted vocabulary as JSON and idf as safetensors (no pickle), named ``<prefix>vocabulary.json``."""
    terms = sorted(vectorizer.vocabulary_, key=vectorizer.vocabulary_.get)
    (directory / f"{prefix}vocabulary.json").write_text(json.dumps(terms, ensure_ascii=False), encoding="utf-8")
    save_file({"idf": vectorizer.idf_}, str(directory / f"{prefix}idf.safetensors"))


def load_vectorizer(directory: Path, make: Callable[[dict[str, int]], Any], prefix: str = "") -> Any:
    """What :func:`save_vectorizer` wrote, into ``make(vocabulary)`` (a vectorizer with the saved settings)."""
    terms = json.loads((directory / f"{prefix}vocabulary.json").read_text(encoding="utf-8"))
    vectorizer = make({term: index for index, term in enumerate(terms)})
    vectorizer.idf_ = load_file(str(directory / f"{prefix}idf.safetensors"))["idf"]
    return vectorizer


@METHODS.register("tfidf", aliases=("tf-idf", "tfidf-lr"))
class Tfidf(FittedMethod):
    """TF-IDF n-grams + logistic regression (scikit-learn): no encoder, trains in seconds on a CPU."""

    name: ClassVar[str] = "tfidf"
    Params: ClassVar[type[TfidfParams]] = TfidfParams
    tasks: ClassVar[tuple[str, ...]] = ("classification",)
    encoder: ClassVar[EncoderSource] = "none"  # no encoder at all

    def __init__(self, params: TfidfParams | None = None):
        self.params = params or TfidfParams()
        self.vectorizer: Any = None
        self.head: LinearHead | None = None

    def check_task(self, task: Task) -> None:
        check_single_label_classification(self, task)

    def fit(self, texts: list[str], targets: np.ndarray, context: EstimatorContext) -> FitStats:
        self.vectorizer = self._vectorizer()
        features = self.vectorizer.fit_transform(texts)
        self.head = fit_logistic_regression(features, targets, c=self.params.C, class_weight=self.params.class_weight,
                                            max_iter=self.params.max_iter, seed=context.seed)
        return FitStats(self.head.parameters, self.head.parameters)

    def log_probs(self, texts: list[str], context: EstimatorContext) -> np.ndarray:
        return self.head.log_probs(self.vectorizer.transform(texts))

    def save(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        save_vectorizer(self.vectorizer, directory)
        self.head.save(directory / "head.safetensors")

    def load(self, directory: Path, context: EstimatorContext) -> Tfidf:
        self.vectorizer = load_vectorizer(directory, self._vectorizer)
        self.head = LinearHead.load(directory / "head.safetensors")
        return self

    def _vectorizer(self, vocabulary: dict[str, int] | None = None) -> Any:
        ngrams = self.params.ngram_range or _DEFAULT_NGRAMS[self.params.analyzer]
        return make_vectorizer(self.params.analyzer, ngrams, min_df=self.params.min_df,
                               sublinear_tf=self.params.sublinear_tf, vocabulary=vocabulary)
