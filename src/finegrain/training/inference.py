"""Batched inference that always returns results in input order."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Any

import numpy as np
import torch

from finegrain.training.batching import ordered_batches

__all__ = ["predict_logits"]


@torch.inference_mode()
def predict_logits(model: torch.nn.Module, features: list[dict[str, Any]],
                   collate: Callable[[list[dict[str, Any]]], dict[str, torch.Tensor]], *,
                   batch_size: int, device: torch.device, dtype: torch.dtype | None) -> list[np.ndarray]:
    """Logits per feature, in the order of ``features``.

    Features are run longest-first (least padding) and put back in input order; token-level
    logits are cut to each feature's own length.
    """
    was_training = model.training
    model.eval()
    results: list[np.ndarray | None] = [None] * len(features)
    lengths = [len(f["input_ids"]) for f in features]
    autocast = torch.autocast(device.type, dtype=dtype) if dtype else contextlib.nullcontext()
    for indices in ordered_batches(lengths, batch_size):
        batch = collate([features[i] for i in indices])
        inputs = {k: v.to(device) for k, v in batch.items() if k in ("input_ids", "attention_mask")}
        with autocast:
            logits = model(**inputs).logits.float().cpu().numpy()
        for row, index in enumerate(indices):
            results[index] = logits[row, : lengths[index]] if logits.ndim == 3 else logits[row]
    model.train(was_training)
    return results  # type: ignore[return-value]
