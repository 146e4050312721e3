"""The task interface: what a task (classification, NER, ...) provides to the training loop.

A task owns everything that depends on the label structure: how its columns are read and
checked, the label map, the model head, encoding into features, the loss, metrics and decoding.
The training loop, methods and data readers stay task-agnostic.

A task also declares its outputs (primary metric and direction, table columns, report sections,
study view, serving payload), its inputs (what ``predict`` and ``finegrain predict`` take) and a
tiny dataset for the contract tests: ``evaluation/``, ``study/`` and ``serving/`` render what it
declares and never name its metrics. ``docs/extending.md`` walks through adding one.

A task subclasses :class:`Task` (it gets the default ``forward`` of :class:`Objective`); registering
it in ``finegrain.registry.TASKS`` checks that it defines every other member.
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar, Protocol

import numpy as np
import torch
from pydantic import BaseModel

from finegrain.config import DataColumn
from finegrain.data.inputs import InputFormat
from finegrain.data.labels import LabelMap
from finegrain.data.split import Split
from finegrain.tasks.explaining import ExplainView
from finegrain.tasks.objective import Objective
from finegrain.tasks.robustness import RobustView
from finegrain.tasks.outputs import ClassScores, Column, ReportSections, ServingPayload, StudyView

__all__ = ["Task", "Feature", "Objective"]

Feature = dict[str, Any]
"""One model input: ``input_ids`` (list[int]), ``labels`` (int, list) and ``example`` (the
positional index of its example in the split; several features may share one, e.g. windows)."""


class Task(Objective, Protocol):
    name: ClassVar[str]
    Params: ClassVar[type[BaseModel]]
    pipeline_tag: ClassVar[str]  # the Hugging Face hub's pipeline for the task, for model cards
    stratify: str | None  # canonical column to stratify splits by, or None (may depend on the params)
    label_column: ClassVar[str]  # canonical column holding the gold labels ("label", NER: "tags")
    # The data-section keys it reads beyond text and label (pairs: text_pair), each with its default column
    data_columns: ClassVar[tuple[DataColumn, ...]] = ()

    # Outputs: what evaluate's metrics hold and how they are shown
    primary_metric: ClassVar[str]  # a key of the metrics dict: the headline that picks the kept checkpoint
    greater_is_better: ClassVar[bool]  # the direction of primary_metric, for the loop and studies
    # other keys of the metrics that each evaluation during training logs beside the primary one (log.jsonl)
    logged_metrics: ClassVar[tuple[str, ...]] = ()
    summary_columns: ClassVar[tuple[Column, ...]]  # the CLI metrics table: one row per split
    class_scores: ClassVar[ClassScores | None]  # the CLI per-class table of one split, or None
    report: ClassVar[ReportSections]  # the task's part of report.md, and its figures
    study: ClassVar[StudyView]  # how studies score example_counts and what they break down
    serving: ClassVar[ServingPayload]  # the REST request and answer
    explaining: ExplainView  # what ``finegrain explain`` reads of an input and explains of a prediction
    # what ``finegrain robustness`` perturbs and attacks, and when a prediction changed; None: no such tests
    robustness: RobustView | None
    description: str  # the task as messages name it: "single-label classification"
    single_label: bool  # one text, one class of the label map per example: what fitted methods learn

    # Inputs: what predict takes
    input_formats: ClassVar[tuple[InputFormat, ...]]  # the files ``finegrain predict --input`` reads

    @staticmethod
    @abstractmethod
    def tiny_dataset(folder: Path) -> dict[str, str]:
        """Write a few dozen learnable examples (train, validation, test) under ``folder`` in the task's own
        formats and return the run config's ``data`` section for them: the contract tests train on it."""

    @abstractmethod
    def prediction_split(self, inputs: Sequence[Any]) -> Split:
        """The inputs given to ``predict`` as a checked split; a DataError for anything the task does not
        take (never coerced with ``str``)."""

    @abstractmethod
    def input_fields(self, value: Any) -> dict[str, Any]:
        """How one input is shown beside its prediction in ``finegrain predict``'s output."""

    @abstractmethod
    def predict_inputs(self, split: Split) -> list[Any]:
        """The examples of a checked split as ``predict`` takes them (studies time predict on them)."""

    @abstractmethod
    def columns(self, chosen: Mapping[str, str]) -> dict[str, str]:
        """Canonical column -> the user's column name, from ``chosen``: each column key of the data section
        (``text``, ``label`` and the ``data_columns`` keys) -> the column it names, set or defaulted."""

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
        """Per-example count vectors (e.g. tp/fp/fn) whose sum gives the primary metric through
        ``study.score_counts``: what studies resample for confidence intervals and paired tests."""

    @abstractmethod
    def decode(self, split: Split, features: list[Feature], logits: list[np.ndarray],
               labels: LabelMap) -> list[dict[str, Any]]:
        """One prediction dict per example of ``split``, in input order."""

    def decode_passes(self, split: Split, features: list[Feature], logits: list[np.ndarray], labels: LabelMap,
                      logits_of: Callable[[Split], tuple[list[Feature], list[np.ndarray]]]) -> list[dict[str, Any]]:
        """Predictions that may take further passes of the model over what a pass made (grammar correction tags
        the corrected text again); ``logits_of`` gives the features and logits of another split as ``predict``
        computes them. Only ``predict`` calls it (evaluation scores one pass); most tasks: ``decode``."""
        return self.decode(split, features, logits, labels)

    def fit_targets(self, split: Split, labels: LabelMap, features: list[Feature] | None) -> np.ndarray:
        """What a fitted method fits to, one entry per training example: by default the features' labels (a class
        id per example; a list per position where the labels are per token). ``features`` is None for a method
        without an encoder (nothing was tokenized): classification and pairs then read their class ids from the
        split; spelling hands over its target texts, which a label vocabulary may not hold."""
        if features is None:
            raise ValueError(f"Task '{self.name}' reads a fitted method's targets from encoded features: its methods"
                             " need an encoder (EncoderSource 'saved' or 'base'), or the task overrides fit_targets.")
        targets = [feature["labels"] for feature in features]
        # a class id per example; a label per position gives lists of several lengths: an object array
        return np.array(targets, dtype=object if any(isinstance(t, list) for t in targets) else None)

    def restore(self, metrics: Mapping[str, Mapping[str, Any]]) -> None:
        """Take back what the task tuned on validation while training (e.g. spelling's acceptance threshold)
        from the finished run's ``metrics.json``, before it predicts; most tasks tune nothing."""
