"""What a speed-up is to the seam (:func:`finegrain.training.speedups.apply_speedups`).

A speed-up is a name and an ``apply(model, setup)`` that changes the model (or the process) for
training and returns what it changed as :class:`Applied`, or None where it does not apply. Only the
seam calls it; the training loop sees none of them by name.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from finegrain.training.checkpoint import TrainerState

__all__ = ["Setup", "Applied", "Speedup"]


@dataclass(frozen=True)
class Setup:
    """What a speed-up may consult to decide whether it applies to a run."""

    device: torch.device
    wanted: bool  # train.cpu_speedups is "auto"
    sharded: bool  # FSDP or DeepSpeed own the parameters once accelerate has prepared the model
    features: tuple[list[dict[str, Any]] | None, ...]  # the training and validation features
    resumed: TrainerState | None = None  # the checkpoint's state, when the run resumes from one

    @property
    def cpu(self) -> bool:
        """The switch is on and the run trains on CPU."""
        return self.wanted and self.device.type == "cpu"


def _nothing() -> None:
    return None


@dataclass
class Applied:
    """What one speed-up changed, and the little the loop's setup needs from it."""

    restore: Callable[[], None] = _nothing  # gives the model back its own modules
    saving: Callable[[], AbstractContextManager] = nullcontext  # around saving: the model in its stock form
    draws_masks: bool = False  # draws dropout masks with masks.keep_mask: one stream per forward pass
    state: dict[str, Any] = field(default_factory=dict)  # TrainerState fields the checkpoint records


@dataclass(frozen=True)
class Speedup:
    """One entry of the package's list: deleting a speed-up is deleting its module and this entry."""

    name: str
    apply: Callable[[nn.Module, Setup], Applied | None]
