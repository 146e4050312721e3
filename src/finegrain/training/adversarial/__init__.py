"""Adversarial training and R-Drop (``train.adversarial``) in the one loop, through one seam: the loop calls a
:class:`BatchStep` for each batch's forward and backward passes, plain or with the run's defence.

FGM (fgm.py), PGD (pgd.py) and FreeLB (freelb.py) perturb the output of the model's input embedding
through a forward hook (passes.py), so they train every method the loop trains, embeddings frozen or not, and
with the CPU speed-ups (the hook finds the compact embedding that stands in for the word embedding there).
R-Drop (rdrop.py) runs the batch twice with different dropout masks. The loss comes from the task, so each
works for classification, sentence pairs and NER. Fitted methods (tfidf, embeddings-lr, setfit) are refused
before training (training/setup.py).

Cost: the run records, in ``run.json``'s ``adversarial``, the passes per batch and the seconds per batch with
the defence; and, measured in the same run, the seconds of each batch's first forward and backward pass (the
plain step's work): ``plain_seconds_per_batch`` = with-defence seconds - the defence's passes + that first pass,
and ``slowdown`` their ratio. R-Drop's one pass is on the doubled batch, so it has no plain pass to time: its
record gives the passes and seconds only (benchmarks/defences.py measures plain runs beside every defence).

Example:
    >>> step = batch_step(PgdConfig(), accelerator, task, memory)  # doctest: +SKIP
    >>> loss = step(model, batch)  # doctest: +SKIP
"""

from __future__ import annotations

from typing import Any, Protocol

import torch
from accelerate import Accelerator
from torch import nn

from finegrain.adversarial_config import AdversarialConfig, FgmConfig, FreeLbConfig, PgdConfig, RDropConfig
from finegrain.tasks.objective import Objective
from finegrain.training.adversarial.fgm import Fgm
from finegrain.training.adversarial.freelb import FreeLb
from finegrain.training.adversarial.passes import Passes
from finegrain.training.adversarial.pgd import Pgd
from finegrain.training.adversarial.rdrop import RDrop
from finegrain.training.memory import PeakMemory

__all__ = ["Defence", "BatchStep", "batch_step", "DEFENCES"]


class Defence(Protocol):
    def step(self, passes: Passes, model: nn.Module, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        """Run the forward and backward passes of ``batch`` (gradients accumulate in the parameters); return the
        task loss to log (detached)."""


DEFENCES: dict[type, type] = {FgmConfig: Fgm, PgdConfig: Pgd, FreeLbConfig: FreeLb, RDropConfig: RDrop}


class BatchStep:
    """What the loop calls for each batch: its forward and backward passes, plain or with ``defence``."""

    def __init__(self, passes: Passes, defence: Defence | None = None, name: str | None = None):
        self.passes, self.defence, self.name = passes, defence, name
        self.batches = 0
        self.seconds = 0.0

    def __call__(self, model: nn.Module, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        if self.defence is None:
            loss, _ = self.passes.run(model, batch, last=True)
            return loss
        self.passes.new_batch()
        started = self.passes.clock()
        loss = self.defence.step(self.passes, model, batch)
        self.seconds += self.passes.clock() - started
        self.batches += 1
        return loss

    def cost(self, train_seconds: float) -> dict[str, Any] | None:
        """What the defence cost over ``train_seconds`` of training (this session's): None without one."""
        if self.defence is None or not self.batches:
            return None
        n, passes = self.batches, self.passes
        per_batch = train_seconds / n
        record: dict[str, Any] = {"name": self.name, "forward_passes_per_batch": round(passes.forwards / n, 2),
                                  "backward_passes_per_batch": round(passes.backwards / n, 2),
                                  "seconds_per_batch": round(per_batch, 4)}
        if passes.first_pass_seconds > 0:
            plain = per_batch - (self.seconds - passes.first_pass_seconds) / n
            record.update(plain_seconds_per_batch=round(plain, 4), slowdown=round(per_batch / max(plain, 1e-9), 2))
        return record


def batch_step(config: AdversarialConfig | None, accelerator: Accelerator, objective: Objective,
               memory: PeakMemory) -> BatchStep:
    """The loop's step for ``train.adversarial`` (None: plain)."""
    passes = Passes(accelerator, objective, memory)
    if config is None:
        return BatchStep(passes)
    return BatchStep(passes, DEFENCES[type(config)](config), config.name)
