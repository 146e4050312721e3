"""Fitted methods (estimators) in the training layer: their context, and their logits for a predictor.

What an estimator uses from this layer (tokenizer and encoder loading, batched embedding under the
run's precision) comes through an :class:`~finegrain.methods.estimators.base.EstimatorContext`;
fitting adds the one training loop to it (:mod:`finegrain.training.estimator_runner`). Nothing
here imports the loop, so loading a run to predict does not either.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import numpy as np
import torch
from transformers import AutoModel

from finegrain.config import RunConfig, TrainConfig
from finegrain.data.split import Split
from finegrain.errors import ModelError
from finegrain.methods.base import FittedMethod
from finegrain.methods.estimators.base import EstimatorContext, FineTune
from finegrain.tasks.base import Feature, Task
from finegrain.tasks.modeling import quiet_transformers
from finegrain.training.inference import predict_logits
from finegrain.training.precision import autocast_dtype
from finegrain.training.setup import load_tokenizer

__all__ = ["estimator_context", "estimator_logits", "EstimatorLogits", "load_estimator"]


def estimator_context(task: Task, model_path: str | None, max_length: int, train: TrainConfig, device: torch.device,
                      mixed_precision: str, *, fine_tune: FineTune | None = None,
                      held_out: tuple[str, ...] = ()) -> EstimatorContext:
    """What an estimator uses from this layer: tokenizer and encoder loading, batched embedding under the
    run's precision (``train.eval_batch_size`` per batch), and (when training) the one loop."""
    embed = partial(_embed, collate=task.collate, batch_size=train.eval_batch_size, device=device,
                    dtype=autocast_dtype(mixed_precision))
    return EstimatorContext(model_path=model_path, seed=train.seed,
                            load_tokenizer=partial(load_tokenizer, max_length=max_length), load_encoder=_load_encoder,
                            collate=task.collate, embed=embed, fine_tune=fine_tune, held_out=held_out)


def estimator_logits(estimator: FittedMethod, context: EstimatorContext, task: Task,
                     split: Split) -> tuple[list[Feature], list[np.ndarray]]:
    """Per-example features (``{"example": i}``) and log-probabilities (the logits), in input order; the
    estimator reads the split's examples as the task hands them to ``predict`` (texts, pairs of texts)."""
    log_probs = estimator.log_probs(task.predict_inputs(split), context)
    return [{"example": i} for i in range(len(split))], list(log_probs)


@dataclass
class EstimatorLogits:
    """A :class:`~finegrain.training.logits_source.LogitsSource`: a fitted estimator, loaded once, that
    reads the task's examples itself; ``context(batch_size)`` gives it the embedding batch size asked for."""

    estimator: FittedMethod
    task: Task
    context: Callable[[int], EstimatorContext]

    @property
    def runtime(self) -> str:
        return f"estimator ({self.estimator.name})"

    def logits(self, split: Split, batch_size: int) -> tuple[list[Feature], list[np.ndarray]]:
        return estimator_logits(self.estimator, self.context(batch_size), self.task, split)


def load_estimator(directory: Path, config: RunConfig, task: Task, method: FittedMethod, device: torch.device,
                   mixed_precision: str, model_path: str | None) -> EstimatorLogits:
    """The estimator saved in ``directory`` as a logits source. ``model_path`` is the base encoder, for a
    method whose ``encoder`` is "base" (else None)."""

    def context(batch_size: int) -> EstimatorContext:
        train = config.train.model_copy(update={"eval_batch_size": batch_size})
        return estimator_context(task, model_path, config.model.max_length, train, device, mixed_precision)

    return EstimatorLogits(method.load(directory, context(config.train.eval_batch_size)), task, context)


def _load_encoder(path: str) -> torch.nn.Module:
    try:
        with quiet_transformers():
            return AutoModel.from_pretrained(path, trust_remote_code=False)
    except (OSError, ValueError, KeyError) as error:
        raise ModelError(f"Could not load an encoder from '{path}': {str(error).splitlines()[0]}",
                         hint="Use a BERT-like encoder folder (config.json + weights), e.g. model.name=default.") from None


def _embed(module: torch.nn.Module, features: list[Feature], pad_id: int, *,
           collate: Callable[[list[Feature], int], dict[str, torch.Tensor]], batch_size: int,
           device: torch.device, dtype: torch.dtype | None) -> np.ndarray:
    rows = predict_logits(module.to(device), features, partial(collate, pad_id=pad_id), batch_size=batch_size,
                          device=device, dtype=dtype)
    return np.stack(rows)
