"""How a model is scored on held-out data, the seam through which the loop keeps its best model.

The loop asks a :class:`Validation` for metrics, logs the ``primary_metric`` and the
``logged_metrics`` it declares, and keeps the model with the best ``primary_metric`` (in the
direction ``greater_is_better`` says). A task's validation (:class:`TaskValidation`) runs the model over the split,
each process its share, and hands the logits to the task's metrics; masked-LM pretraining scores
held-out masked tokens itself (:class:`finegrain.pretraining.objective.HeldOutMasks`).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from typing import Any, Protocol

import numpy as np
import torch

from finegrain.data.labels import LabelMap
from finegrain.data.split import Split
from finegrain.tasks.base import Feature, Task
from finegrain.training.distributed import sharded_logits
from finegrain.training.inference import Shard

__all__ = ["Validation", "TaskValidation", "evaluate_split"]


class Validation(Protocol):
    primary_metric: str  # the key of the metrics the best model is kept by
    greater_is_better: bool  # the direction of primary_metric
    logged_metrics: tuple[str, ...]  # other keys of the metrics each evaluation logs (log.jsonl, the history)
    features: list[Feature]  # the held-out features (a compact embedding keeps their tokens too)

    def evaluate(self, model: torch.nn.Module, *, batch_size: int, pad_id: int, device: torch.device,
                 dtype: torch.dtype | None, shard: Shard) -> dict[str, Any]:
        """The metrics of ``model``. With a ``shard`` of several processes, every process calls this and
        gets the same metrics (each runs its share, or all run the same forward passes)."""


@dataclass(frozen=True)
class TaskValidation:
    """A task's metrics on a labelled split (features as the task encoded them)."""

    task: Task
    split: Split
    features: list[Feature]
    labels: LabelMap

    @property
    def primary_metric(self) -> str:
        return self.task.primary_metric

    @property
    def greater_is_better(self) -> bool:
        return self.task.greater_is_better

    @property
    def logged_metrics(self) -> tuple[str, ...]:
        return self.task.logged_metrics

    def evaluate(self, model: torch.nn.Module, *, batch_size: int, pad_id: int, device: torch.device,
                 dtype: torch.dtype | None, shard: Shard) -> dict[str, Any]:
        metrics, _ = evaluate_split(model, self.task, self.split, self.features, self.labels, batch_size=batch_size,
                                    pad_id=pad_id, device=device, dtype=dtype, shard=shard)
        return metrics


def evaluate_split(model: torch.nn.Module, task: Task, split: Split, features: list[Feature], labels: LabelMap, *,
                   batch_size: int, pad_id: int, device: torch.device, dtype: torch.dtype | None,
                   shard: Shard = Shard()) -> tuple[dict[str, Any], list[np.ndarray]]:
    """Metrics of ``split`` and the per-feature logits (input order).

    With a ``shard`` of several processes, each runs its share and every one gets all the logits
    and the same metrics (all must call this).
    """
    logits = sharded_logits(model, features, partial(task.collate, pad_id=pad_id),
                            batch_size=batch_size, device=device, dtype=dtype, shard=shard)
    return task.evaluate(split, features, logits, labels), logits
