"""FGM (Miyato et al., 2017, "Adversarial Training Methods for Semi-Supervised Text Classification"): the clean
pass gives the gradient g of the loss at the embedding output; a second pass on the embeddings moved by
``r = epsilon * g / ||g||`` (per example) adds its gradient to the clean one. Two forward and two backward passes.
"""

from __future__ import annotations

import torch
from torch import nn

from finegrain.adversarial_config import FgmConfig
from finegrain.training.adversarial.passes import Passes, unit

__all__ = ["Fgm"]


class Fgm:
    def __init__(self, config: FgmConfig):
        self.epsilon = config.epsilon

    def step(self, passes: Passes, model: nn.Module, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        loss, clean = passes.run(model, batch, torch.zeros_like, last=False, gather=True)
        passes.run(model, batch, self.epsilon * unit(clean.grad), last=True)
        return loss
