"""Linear probing: the whole encoder is frozen and only the task head trains.

The cheapest baseline, and a measure of how much the pretrained features already encode
the task; the gap to full fine-tuning shows what adaptation buys.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import ClassVar

import torch

from finegrain.config import Section
from finegrain.methods._common import freeze_all_but, head_modules, load_plain, save_plain
from finegrain.methods.base import TrainedMethod
from finegrain.registry import METHODS

__all__ = ["LinearProbe", "LinearProbeParams"]


class LinearProbeParams(Section):
    """Linear probing has no parameters of its own: the task decides what the head is."""


@METHODS.register("linear-probe", aliases=("linear_probe", "probe", "head-only"))
class LinearProbe(TrainedMethod):
    """Train only the head modules; everything else keeps its pretrained weights."""

    name: ClassVar[str] = "linear-probe"
    Params: ClassVar[type[LinearProbeParams]] = LinearProbeParams
    mergeable: ClassVar[bool] = True
    default_lr: ClassVar[float] = 1.5e-2  # the best of a 3-point sweep (benchmarks/lr_sweep.py)

    def __init__(self, params: LinearProbeParams | None = None):
        self.params = params or LinearProbeParams()

    def apply(self, model: torch.nn.Module, head_names: list[str]) -> torch.nn.Module:
        heads = head_modules(model, head_names)
        freeze_all_but(model, (p for head in heads for p in head.parameters()))
        return model

    def save(self, model: torch.nn.Module, directory: Path, *,
             state_dict: dict[str, torch.Tensor] | None = None) -> None:
        save_plain(model, directory, state_dict)

    def load(self, directory: Path, build_base: Callable[[str], torch.nn.Module]) -> torch.nn.Module:
        return load_plain(directory, build_base)
