"""What estimator methods (:class:`~finegrain.methods.base.FittedMethod`) share: their context and stats.

The runner sends a fitted method down the short estimator path instead of the training loop. What
needs the training layer (loading a model, batched inference under the run's precision, the one
training loop) comes in through an :class:`EstimatorContext`, so this layer never imports the layer
above it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from finegrain.errors import ConfigError
from finegrain.methods.base import MethodBasics, supporting_methods
from finegrain.tasks.objective import Objective

if TYPE_CHECKING:
    from finegrain.tasks.base import Task

__all__ = ["EstimatorContext", "FineTune", "FitStats", "check_single_label_classification"]

Feature = dict[str, Any]
# (module, objective, features, pad_id, epochs) -> samples processed: the one loop, as a fitted method sees it
FineTune = Callable[[torch.nn.Module, Objective, list[Feature], int, float], int]


@dataclass(frozen=True)
class EstimatorContext:
    """What an estimator may use from the training layer.

    ``embed(module, features, pad_id)`` runs ``module(input_ids, attention_mask).logits`` over the
    features in batches, under the run's autocast, and returns the rows in input order.
    ``fine_tune(module, objective, features, pad_id, epochs)`` trains ``module`` with the one loop
    (``objective``: an :class:`~finegrain.tasks.objective.Objective`) and returns the samples it processed;
    None where nothing may train (prediction). ``held_out``: every text of the run's validation and test splits,
    which unlabeled text a method reads beside its training data must not hold (empty when predicting).
    """

    model_path: str | None  # the run's encoder folder (model.name resolved); None when loading a method that needs none
    seed: int
    load_tokenizer: Callable[[str], Any]  # a fast tokenizer from a model folder, truncating at max_length
    load_encoder: Callable[[str], torch.nn.Module]  # AutoModel.from_pretrained, quietly
    collate: Callable[[list[Feature], int], dict[str, torch.Tensor]]  # pads input_ids, builds attention_mask
    embed: Callable[[torch.nn.Module, list[Feature], int], np.ndarray]
    fine_tune: FineTune | None = None
    held_out: tuple[str, ...] = ()


@dataclass(frozen=True)
class FitStats:
    trainable: int  # parameters fitted (estimator weights; fine-tuned encoder weights included)
    total: int  # parameters used to predict (a frozen encoder included)


def check_single_label_classification(method: MethodBasics, task: Task) -> None:
    """The check the single-text estimator methods share: a task they do not declare is refused naming the
    methods that support it (pair classification: its pair baselines among them); and they fit one class
    per text, so the task must declare ``single_label`` (single-label classification does, multi-label not)."""
    MethodBasics.check_task(method, task)
    if task.single_label:
        return
    supporting = supporting_methods(task.name, trained_only=True)
    raise ConfigError(f"Method '{method.name}' supports single-label classification only, not {task.description}.",
                      where="method.name", hint=f"Methods for {task.description}: {', '.join(supporting)}.")
