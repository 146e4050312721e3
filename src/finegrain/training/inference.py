"""Batched inference that always returns results in input order, in one process or split between several."""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from finegrain.tasks.objective import MODEL_INPUTS
from finegrain.training.batching import ordered_batches

__all__ = ["predict_logits", "predict_shard", "ordered_logits", "LogitsBackend", "Collate", "Shard"]

LogitsBackend = Callable[[dict[str, torch.Tensor]], np.ndarray]
"""``{"input_ids", "attention_mask"}`` and ``token_type_ids`` where the task makes them (padded CPU
tensors, :data:`~finegrain.tasks.objective.MODEL_INPUTS`) -> float32 logits of the batch; lets
another runtime (onnxruntime) stand in for the PyTorch model behind the same encode/decode."""

Collate = Callable[[list[dict[str, Any]]], dict[str, torch.Tensor]]


@dataclass(frozen=True)
class Shard:
    """The share of an evaluation that process ``rank`` of ``processes`` runs.

    The batches are those one process would run (longest first), dealt in turn: batch ``i`` goes to
    process ``i % processes``. Each example so keeps its one-process batch, padding and numbers.
    ``lockstep`` is for a model whose weights are sharded (FSDP, ZeRO-3): it gathers them inside each
    forward pass, a collective every process must join, so every process runs the same number of
    forward passes (a short one repeats a batch and drops its outputs), under ``no_grad``: FSDP's
    unsharding has failed under ``inference_mode`` (pytorch/pytorch#113203, #197327).
    """

    rank: int = 0
    processes: int = 1
    lockstep: bool = False


def ordered_logits(features: list[dict[str, Any]], collate: Collate, *, batch_size: int,
                   backend: LogitsBackend) -> list[np.ndarray]:
    """Logits per feature, in the order of ``features``, from any backend.

    Features are run longest-first (least padding) and put back in input order; token-level
    logits are cut to each feature's own length.
    """
    results: list[np.ndarray | None] = [None] * len(features)
    batches = ordered_batches([len(f["input_ids"]) for f in features], batch_size)
    for index, logits in _batch_rows(features, collate, batches, backend):
        results[index] = logits
    return results  # type: ignore[return-value]


def predict_logits(model: torch.nn.Module, features: list[dict[str, Any]], collate: Collate, *,
                   batch_size: int, device: torch.device, dtype: torch.dtype | None) -> list[np.ndarray]:
    """Logits of a PyTorch model per feature, in the order of ``features`` (autocast to ``dtype``)."""
    with _torch_backend(model, device, dtype) as backend:
        return ordered_logits(features, collate, batch_size=batch_size, backend=backend)


def predict_shard(model: torch.nn.Module, features: list[dict[str, Any]], collate: Collate, *, batch_size: int,
                  device: torch.device, dtype: torch.dtype | None, shard: Shard) -> dict[int, np.ndarray]:
    """Logits of the features in this process's ``shard``, by index into ``features``."""
    batches = ordered_batches([len(f["input_ids"]) for f in features], batch_size)
    mine = batches[shard.rank :: shard.processes]
    spare = math.ceil(len(batches) / shard.processes) - len(mine) if shard.lockstep else 0
    with _torch_backend(model, device, dtype, torch.no_grad if shard.lockstep else torch.inference_mode) as backend:
        rows = dict(_batch_rows(features, collate, mine, backend))
        for _ in range(spare):
            backend(_model_inputs(collate([features[i] for i in batches[0]])))
    return rows


def _batch_rows(features: list[dict[str, Any]], collate: Collate, batches: list[list[int]],
                backend: LogitsBackend) -> Iterator[tuple[int, np.ndarray]]:
    """(feature index, its logits) for every feature of ``batches``."""
    for indices in batches:
        logits = backend(_model_inputs(collate([features[i] for i in indices])))
        for row, index in enumerate(indices):
            yield index, logits[row, : len(features[index]["input_ids"])] if logits.ndim == 3 else logits[row]


def _model_inputs(batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    return {k: v for k, v in batch.items() if k in MODEL_INPUTS}


@contextlib.contextmanager
def _torch_backend(model: torch.nn.Module, device: torch.device, dtype: torch.dtype | None,
                   no_autograd: Callable[[], contextlib.AbstractContextManager] = torch.inference_mode,
                   ) -> Iterator[LogitsBackend]:
    """``model`` as a backend, in eval mode and without autograd while the block runs."""
    was_training = model.training
    if any(module.training for module in model.modules()):  # a served model is in eval mode already: skip
        model.eval()  # the eval()/train() walks cost as much as a 1-text request's tokenizing
    autocast = torch.autocast(device.type, dtype=dtype) if dtype else contextlib.nullcontext()

    def backend(inputs: dict[str, torch.Tensor]) -> np.ndarray:
        with no_autograd(), autocast:
            return model(**{k: v.to(device) for k, v in inputs.items()}).logits.float().cpu().numpy()

    try:
        yield backend
    finally:
        if was_training:
            model.train()
