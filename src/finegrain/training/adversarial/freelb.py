"""FreeLB (Zhu et al., 2020, "FreeLB: Enhanced Adversarial Training for Natural Language Understanding"):
from a small random start, ``steps`` ascent steps on the embedding output; every step's parameter gradients
count, each weighted 1/steps (the "free" average over the ball's points visited). ``steps`` forward and
backward passes; there is no separate clean pass (the first starts within ``init`` of the clean embeddings).
"""

from __future__ import annotations

import torch
from torch import nn

from finegrain.adversarial_config import FreeLbConfig
from finegrain.training.adversarial.passes import Passes, unit, within

__all__ = ["FreeLb"]


class FreeLb:
    def __init__(self, config: FreeLbConfig):
        self.epsilon, self.steps, self.alpha, self.init = config.epsilon, config.steps, config.alpha, config.init

    def step(self, passes: Passes, model: nn.Module, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        mask = batch["attention_mask"]
        delta: torch.Tensor | None = None
        total = torch.zeros((), device=batch["input_ids"].device)
        for step in range(self.steps):
            last = step == self.steps - 1
            start = delta if delta is not None else (lambda output: self._start(output, mask))
            loss, added = passes.run(model, batch, start, last=last, weight=1.0 / self.steps, gather=not last)
            total = total + loss.float()
            if not last:
                delta = added.detach().float() + self.alpha * unit(added.grad)
                delta = within(delta, self.epsilon) if self.epsilon > 0 else delta
        return total / self.steps

    def _start(self, output: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Uniform in [-1, 1] on the real tokens, scaled to norm about ``init`` per example (FreeLB's own start)."""
        kept = mask.to(torch.float32).unsqueeze(-1)
        noise = torch.empty(output.shape, dtype=torch.float32, device=output.device).uniform_(-1, 1) * kept
        size = kept.flatten(1).sum(1).clamp_min(1) * output.shape[-1]
        return noise * (self.init / size.sqrt()).view(-1, 1, 1)
