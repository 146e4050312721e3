"""PGD (Madry et al., 2018), as NLP fine-tuning uses it: from the clean pass's gradient, ``steps`` ascent
steps of size ``alpha`` along the normalised gradient at the embedding output, each projected into the L2 ball
of radius ``epsilon`` (per example); the last perturbed pass's parameter gradients are added to the clean
ones. The steps in between need only the gradient at the delta, so they skip the parameters' gradients
(``Passes.delta_gradient``). ``steps`` + 1 forward passes and as many backward ones.
"""

from __future__ import annotations

import torch
from torch import nn

from finegrain.adversarial_config import PgdConfig
from finegrain.training.adversarial.passes import Passes, unit, within

__all__ = ["Pgd"]


class Pgd:
    def __init__(self, config: PgdConfig):
        self.epsilon, self.steps, self.alpha = config.epsilon, config.steps, config.alpha

    def step(self, passes: Passes, model: nn.Module, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        loss, clean = passes.run(model, batch, torch.zeros_like, last=False, gather=True)
        gradient, delta = clean.grad, torch.zeros_like(clean.grad, dtype=torch.float32)
        for step in range(self.steps):
            delta = within(delta + self.alpha * unit(gradient), self.epsilon)
            if step < self.steps - 1:
                gradient = passes.delta_gradient(model, batch, delta)
        passes.run(model, batch, delta, last=True)
        return loss
