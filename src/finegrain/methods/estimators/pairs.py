"""SetFit's contrastive sentence pairs and their objective, shaped for the one training loop.

The loop calls the objective's default ``forward`` (``model(input_ids, attention_mask).logits``) and
its ``loss``; a batch of pairs is laid out as interleaved rows ``[a1, b1, a2, b2, ...]`` so the encoder runs once
per batch, and :class:`CosinePairs` turns the rows back into one cosine similarity per pair.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from finegrain.methods.estimators.encoding import MeanPooler, PooledOutput
from finegrain.tasks.objective import Objective

__all__ = ["make_pairs", "CosinePairs", "PairObjective"]


def make_pairs(features: list[dict[str, Any]], targets: np.ndarray, num_iterations: int,
               seed: int) -> list[dict[str, Any]]:
    """For each example, ``num_iterations`` times: one positive pair (another example of its class,
    label 1.0) and one negative pair (an example of another class, label 0.0), as SetFit draws them."""
    rng = np.random.default_rng(seed)
    members = {label: np.flatnonzero(targets == label) for label in np.unique(targets)}
    others = {label: np.flatnonzero(targets != label) for label in members}
    pairs = []
    for _ in range(num_iterations):
        for index, label in enumerate(targets):
            same = members[label][members[label] != index] if len(members[label]) > 1 else members[label]
            for partner, similarity in ((rng.choice(same), 1.0), (rng.choice(others[label]), 0.0)):
                pairs.append({"input_ids": features[index]["input_ids"],
                              "pair_ids": features[int(partner)]["input_ids"], "labels": similarity})
    return pairs


class CosinePairs(torch.nn.Module):
    """Interleaved rows ``[a1, b1, a2, b2, ...]`` -> ``cos(a_i, b_i)`` per pair, as ``.logits``."""

    def __init__(self, pooler: MeanPooler):
        super().__init__()
        self.pooler = pooler

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> PooledOutput:
        embeddings = self.pooler(input_ids, attention_mask).logits
        return PooledOutput(F.cosine_similarity(embeddings[0::2], embeddings[1::2], dim=-1))


class PairObjective(Objective):
    """The loop's objective for pairs: CosineSimilarityLoss, MSE(cos(u, v), 1 or 0)."""

    def __init__(self, collate_rows: Callable[[list[dict[str, Any]], int], dict[str, torch.Tensor]]):
        self.collate_rows = collate_rows

    def collate(self, features: list[dict[str, Any]], pad_id: int) -> dict[str, torch.Tensor]:
        rows = [{"input_ids": ids} for feature in features for ids in (feature["input_ids"], feature["pair_ids"])]
        batch = self.collate_rows(rows, pad_id)
        batch["labels"] = torch.tensor([feature["labels"] for feature in features], dtype=torch.float)
        return batch

    def loss(self, logits: torch.Tensor, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        return F.mse_loss(logits.float(), batch["labels"])
