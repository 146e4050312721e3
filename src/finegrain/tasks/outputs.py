"""What a task declares about its outputs, so that tables, reports, studies and the REST service render
whatever a task gives without knowing its metrics (as a spaCy component declares its scores).

Each task fills these in its own folder; ``evaluation/``, ``study/`` and ``serving/`` only read them.

Example:
    >>> Column("default.f1", "F1 (default mode)").value({"default": {"f1": 0.5}})
    0.5
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from pydantic import BaseModel, ConfigDict, StrictStr

if TYPE_CHECKING:
    from finegrain.tasks.base import Task

__all__ = ["Column", "ClassScores", "ReportSections", "CountBreakdown", "StudyView", "ServingPayload", "TextsRequest"]

Metrics = dict[str, Any]  # one split's metrics, as the task's ``evaluate`` returns them


@dataclass(frozen=True)
class Column:
    """One column of a metrics table: a key of a split's metrics (dots reach into nested dicts)."""

    key: str
    header: str

    def value(self, metrics: Metrics) -> Any:
        """The value under ``key``, or None where the split lacks it."""
        value: Any = metrics
        for part in self.key.split("."):
            value = value.get(part) if isinstance(value, dict) else None
        return value


@dataclass(frozen=True)
class ClassScores:
    """A per-class (or per-type) table of one split, for the command line."""

    title: str  # "Per class"; the CLI adds the split
    name: str  # the first column's header: "label", "type"
    rows: Callable[[Metrics], dict[str, dict[str, Any]]]  # name -> precision, recall, f1, support


@dataclass(frozen=True)
class ReportSections:
    """The task's part of a run's ``report.md`` (the run table and title are shared)."""

    summary: Callable[[dict[str, Metrics]], str]  # Markdown body of "## Summary": splits as rows, notes
    split: Callable[[str, Metrics], str]  # Markdown of one split, its "## <Split>" heading included
    # Draws a split's figures under the run folder; returns name -> path relative to it, which ``split``
    # finds in ``metrics["images"]``. None: no figures.
    plots: Callable[[Path, str, Metrics], dict[str, str]] | None = None


@dataclass(frozen=True)
class CountBreakdown:
    """Counts by kind in each test result (e.g. error kinds), shown as stacked bars per method."""

    key: str  # the key of a study row in results.json, and the figure's file name
    heading: str  # the report block's heading
    text: str  # the report block's text
    title: str  # the figure's title; "{size}" is replaced by the size shown
    axis: str  # the figure's x axis
    counts: Callable[[Metrics], dict[str, float] | None]  # kind -> count of one test result, None: not there


def _no_confusion(metrics: Metrics) -> dict[str, Any] | None:
    return None


@dataclass(frozen=True)
class StudyView:
    """What a study aggregates and shows for the task."""

    metric_label: str  # the primary metric as figure axes name it: "macro F1"
    # Summed ``example_counts`` (over examples; any leading axes, e.g. bootstrap draws) -> the primary
    # metric: what intervals and paired tests resample.
    score_counts: Callable[[np.ndarray], np.ndarray]
    class_f1: Callable[[Metrics], dict[str, float]]  # F1 per class (or type) of a test result: the heat map
    # The confusion matrix ({"labels", "matrix"}) of a test result, summed over seeds for the best method;
    # None where the task has no single matrix.
    confusion: Callable[[Metrics], dict[str, Any] | None] = _no_confusion
    breakdowns: tuple[CountBreakdown, ...] = ()


def _no_info(task: Task) -> dict[str, Any]:
    return {}


def _labels_legend(labels: list[str]) -> tuple[str, list[str]]:
    return "labels", labels


class TextsRequest(BaseModel):
    """The request body of a task that predicts from raw texts: ``{"texts": [...]}``, nothing else."""

    model_config = ConfigDict(extra="forbid")
    texts: list[StrictStr]


@dataclass(frozen=True)
class ServingPayload:
    """``POST /v1/predict`` of the task: the request and answer schemas (validation and OpenAPI)."""

    request: type[BaseModel]  # the request body; ``items`` names its list of inputs
    items: str  # the request field holding the inputs; each one is handed to ``predict`` as it is
    prediction: type[BaseModel]  # one prediction as answered; its fields are the keys a client gets
    example: str  # a request body, shown when a request is malformed
    view: str  # how the web page shows one prediction: "labels", "spans" (entities in the text), "edits" (the
    # corrected text, each changed character marked with what was written) or "json"
    info: Callable[[Task], dict[str, Any]] = _no_info  # the task (with its params) -> extra /v1/info fields
    # The run's label names -> what the web page lists under the run: a heading and the names, whose order
    # its colours follow (NER: the entity types of its B-/I- tags). By default, the labels as they are.
    legend: Callable[[list[str]], tuple[str, list[str]]] = _labels_legend
    # The web page's text boxes when one input holds several texts, sent as an object with these keys (pairs:
    # text, text_pair); (): one box, whose text is the input
    fields: tuple[str, ...] = ()

    def public(self, prediction: dict[str, Any]) -> dict[str, Any]:
        """What a client receives of a prediction: the fields of the answer schema, nothing internal."""
        return {key: value for key, value in prediction.items() if key in self.prediction.model_fields}
