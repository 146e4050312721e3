"""R-Drop (Liang et al., 2021, "R-Drop: Regularized Dropout for Neural Networks"): the batch goes through the
model twice, with different dropout masks, and the symmetric KL divergence between the two output
distributions, times ``alpha``, is added to the task loss of both.

As R-Drop's own code does, the two passes are one forward pass on the batch stacked on itself: each copy
gets its own rows of every dropout mask (also with the CPU dropout speed-up, whose masks come from one random
stream per forward pass), and one backward pass. The distributions compared follow the task's labels: a
softmax per example (classification, sentence pairs) or per labelled token (NER: positions labelled -100,
padding and later sub-tokens, are left out), or a sigmoid per label (multi-label classification: float
targets of the logits' shape).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from finegrain.adversarial_config import RDropConfig
from finegrain.training.adversarial.passes import Passes

__all__ = ["RDrop", "symmetric_kl"]

IGNORED = -100  # the label of positions no loss is taken on (PyTorch cross-entropy's ignore_index)


class RDrop:
    def __init__(self, config: RDropConfig):
        self.alpha = config.alpha

    def step(self, passes: Passes, model: nn.Module, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        twice = {key: torch.cat([value, value]) if isinstance(value, torch.Tensor) else value
                 for key, value in batch.items()}
        logits = passes.logits(model, twice)
        loss = passes.objective.loss(logits, twice)  # the mean over both copies: R-Drop's averaged task loss
        first, second = logits.float().chunk(2)
        passes.backward(loss + self.alpha * symmetric_kl(first, second, batch["labels"]))
        return loss.detach()


def symmetric_kl(first: torch.Tensor, second: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """(KL(p||q) + KL(q||p)) / 2 between the distributions the logits ``first`` and ``second`` give, averaged
    over the examples (or the labelled tokens); 0 where nothing is labelled."""
    if labels.is_floating_point() and labels.shape == first.shape:  # independent sigmoids, one per label
        # for Bernoulli distributions KL(p||q) + KL(q||p) = (p - q)(logit p - logit q)
        per_label = (torch.sigmoid(first) - torch.sigmoid(second)) * (first - second)
        return per_label.sum(-1).mean() / 2
    log_p, log_q = F.log_softmax(first, -1), F.log_softmax(second, -1)
    per_position = ((log_p.exp() - log_q.exp()) * (log_p - log_q)).sum(-1) / 2
    if per_position.dim() == 0 or labels.shape != per_position.shape:
        return per_position.mean()
    kept = labels != IGNORED
    return (per_position * kept).sum() / kept.sum().clamp_min(1)
