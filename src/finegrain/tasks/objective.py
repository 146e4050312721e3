"""What the one training loop trains for: a task (classification, NER), masked-LM pretraining, or
SetFit's sentence pairs. The loop batches with ``collate``, gets logits with ``forward`` and
minimises ``loss``; how a model is scored on held-out data is the validation's business
(:class:`finegrain.training.validation.Validation`), so an objective with nothing to validate on
declares nothing for it.
"""

from __future__ import annotations

from abc import abstractmethod
from typing import Any, Protocol

import torch

__all__ = ["Objective", "MODEL_INPUTS"]

# What a batch hands the model; token_type_ids only where a task's collate makes them (sentence pairs: which
# segment each token is in), so single-text batches, and models without segments, go as before.
MODEL_INPUTS = ("input_ids", "attention_mask", "token_type_ids")


class Objective(Protocol):
    @abstractmethod
    def collate(self, features: list[dict[str, Any]], pad_id: int) -> dict[str, torch.Tensor]:
        """Pad a batch of features into tensors for the model."""

    def forward(self, model: torch.nn.Module, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        """The logits ``loss`` takes. By default the model's output for the padded inputs (those of
        ``MODEL_INPUTS`` the batch holds); masked-LM feeds the labels in too, to project only the masked
        positions onto the vocabulary."""
        return model(**{name: batch[name] for name in MODEL_INPUTS if name in batch}).logits

    @abstractmethod
    def loss(self, logits: torch.Tensor, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        """Training loss from the logits ``forward`` gave."""
