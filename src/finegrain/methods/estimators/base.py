"""The estimator method interface: fit on texts, predict log-probabilities, save and load safely.

An estimator method declares ``kind = "estimator"``; the runner then sends it down the short
estimator path instead of the training loop. What needs the training layer (loading a model,
batched inference under the run's precision, the one training loop) comes in through an
:class:`EstimatorContext`, so this layer never imports the layer above it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Literal, Protocol

import numpy as np
import torch
from pydantic import BaseModel

from finegrain.errors import ConfigError
from finegrain.registry import METHODS

__all__ = ["EstimatorMethod", "EstimatorContext", "FitStats", "check_single_label_classification"]

Feature = dict[str, Any]


@dataclass(frozen=True)
class EstimatorContext:
    """What an estimator may use from the training layer.

    ``embed(module, features, pad_id)`` runs ``module(input_ids, attention_mask).logits`` over the
    features in batches, under the run's autocast, and returns the rows in input order.
    ``fine_tune(module, objective, features, pad_id, epochs)`` trains ``module`` with the one loop
    (``objective`` has the task-like ``collate``/``loss``) and returns the samples it processed;
    None where nothing may train (prediction).
    """

    model_path: str | None  # the run's encoder folder (model.name resolved); None when loading a method that needs none
    seed: int
    load_tokenizer: Callable[[str], Any]  # a fast tokenizer from a model folder, truncating at max_length
    load_encoder: Callable[[str], torch.nn.Module]  # AutoModel.from_pretrained, quietly
    collate: Callable[[list[Feature], int], dict[str, torch.Tensor]]  # pads input_ids, builds attention_mask
    embed: Callable[[torch.nn.Module, list[Feature], int], np.ndarray]
    fine_tune: Callable[[torch.nn.Module, Any, list[Feature], int, float], int] | None = None


@dataclass(frozen=True)
class FitStats:
    trainable: int  # parameters fitted (estimator weights; fine-tuned encoder weights included)
    total: int  # parameters used to predict (a frozen encoder included)


class EstimatorMethod(Protocol):
    name: ClassVar[str]
    Params: ClassVar[type[BaseModel]]
    kind: ClassVar[str]  # "estimator"
    tasks: ClassVar[tuple[str, ...]]  # the tasks it supports (single-label only)
    mergeable: ClassVar[bool]  # False: nothing to fold into transformer weights
    # Where the encoder it predicts with comes from: "none" (no encoder), "saved" (fine-tuned, saved in the
    # run), "base" (the run's base model, loaded again: the run saves only what it fitted on top)
    encoder: ClassVar[Literal["none", "saved", "base"]]

    def check_task(self, task: Any) -> None:
        """Raise a ConfigError naming the methods that do support ``task`` when this one does not."""

    def fit(self, texts: list[str], targets: np.ndarray, context: EstimatorContext) -> FitStats:
        """Fit on the training texts and their class ids (0..K-1, every class present)."""

    def log_probs(self, texts: list[str], context: EstimatorContext) -> np.ndarray:
        """(len(texts), K) log-probabilities in input order; they serve as the run's logits."""

    def save(self, directory: Path) -> None:
        """Write what :meth:`load` needs into ``directory``, in safe formats (no pickle)."""

    def load(self, directory: Path, context: EstimatorContext) -> EstimatorMethod:
        """Restore the fitted state saved in ``directory``; returns ``self``."""


def check_single_label_classification(method: str, task: Any) -> None:
    """The check every estimator method shares: it fits one class per text, so the task must declare
    ``single_label`` (single-label classification does; multi-label and NER do not)."""
    if task.single_label:
        return
    supporting = [name for name, cls in METHODS.items() if task.name in getattr(cls, "tasks", (task.name,))
                  and getattr(cls, "kind", "neural") != "estimator"]
    raise ConfigError(f"Method '{method}' supports single-label classification only, not {task.description}.",
                      where="method.name", hint=f"Methods for {task.description}: {', '.join(supporting)}.")
