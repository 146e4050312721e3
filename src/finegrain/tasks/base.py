"""The task interface: what a task (classification, NER, ...) provides to the training loop.

A task owns everything that depends on the label structure: how its columns are read and
checked, the label map, the model head, encoding into features, the loss, metrics and decoding.
The training loop, methods and data readers stay task-agnostic.

A task subclasses :class:`Task` (it gets the default ``forward`` of :class:`Objective`); registering
it in ``finegrain.registry.TASKS`` checks that it defines every other member.
"""

from __future__ import annotations

from abc import abstractmethod
from typing import Any, ClassVar, Protocol

import numpy as np
import torch
from pydantic import BaseModel

from finegrain.data.labels import LabelMap
from finegrain.data.split import Split
from finegrain.tasks.objective import Objective

__all__ = ["Task", "Feature", "Objective"]

Feature = dict[str, Any]
"""One model input: ``input_ids`` (list[int]), ``labels`` (int, list) and ``example`` (the
positional index of its example in the split; several features may share one, e.g. windows)."""


class Task(Objective, Protocol):
    name: ClassVar[str]
    Params: ClassVar[type[BaseModel]]
    primary_metric: ClassVar[str]  # a key of the metrics dict; greater is better
    pipeline_tag: ClassVar[str]  # the Hugging Face hub's pipeline for the task, for model cards
    stratify: str | None  # canonical column to stratify splits by, or None (may depend on the params)
    label_column: ClassVar[str]  # canonical column holding the gold labels ("label", NER: "tags")
    count_metric: ClassVar[str]  # "macro_f1" or "micro_f1": how example_counts sum to the headline

    @abstractmethod
    def columns(self, text: str, label: str) -> dict[str, str]:
        """Canonical column -> the user's column name (from ``data.text`` / ``data.label``)."""

    @abstractmethod
    def check(self, split: Split) -> Split:
        """Validate content (empty text, malformed labels); return it normalised."""

    @abstractmethod
    def label_map(self, train: Split) -> LabelMap:
        """Build the label map from training data (errors on a single class)."""

    @abstractmethod
    def check_labels(self, split: Split, labels: LabelMap) -> None:
        """Raise DataError for labels that training never saw."""

    @abstractmethod
    def build_model(self, model_path: str, labels: LabelMap, *, random_init: bool = False) -> torch.nn.Module:
        """A transformers model with this task's head; ``config.id2label`` holds the names."""

    @abstractmethod
    def head_names(self, model: torch.nn.Module) -> list[str]:
        """Names of the head modules, which every method trains and saves."""

    @abstractmethod
    def encode(self, split: Split, tokenizer: Any, labels: LabelMap, max_length: int) -> list[Feature]:
        """Tokenize a split into features (labels included when the split has them)."""

    @abstractmethod
    def evaluate(self, split: Split, features: list[Feature], logits: list[np.ndarray],
                 labels: LabelMap) -> dict[str, Any]:
        """Metrics of a split from its features (as encode made them) and their logits, in feature
        order (JSON-serialisable)."""

    @abstractmethod
    def example_counts(self, split: Split, features: list[Feature], logits: list[np.ndarray],
                       labels: LabelMap) -> np.ndarray:
        """Per-example count vectors (tp/fp/fn) whose sum gives the primary metric through
        ``count_metric``: what studies resample for confidence intervals and paired tests."""

    @abstractmethod
    def decode(self, split: Split, features: list[Feature], logits: list[np.ndarray],
               labels: LabelMap) -> list[dict[str, Any]]:
        """One prediction dict per example of ``split``, in input order."""
