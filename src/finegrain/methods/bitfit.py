"""BitFit: only the bias terms (and the head) train (Ben Zaken et al., 2022).

About 0.1% of the encoder's weights, yet close to full fine-tuning on small and medium
datasets; the result is still a plain model, so there is nothing to merge.
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

__all__ = ["BitFit", "BitFitParams"]


class BitFitParams(Section):
    """BitFit has no parameters: every bias term trains, LayerNorm biases included, as in the paper."""


@METHODS.register("bitfit", aliases=("bias-only", "bias"))
class BitFit(TrainedMethod):
    """Train every parameter named ``*.bias`` plus the whole head."""

    name: ClassVar[str] = "bitfit"
    Params: ClassVar[type[BitFitParams]] = BitFitParams
    mergeable: ClassVar[bool] = True
    default_lr: ClassVar[float] = 3e-3  # the best of a 3-point sweep (benchmarks/lr_sweep.py)

    def __init__(self, params: BitFitParams | None = None):
        self.params = params or BitFitParams()

    def apply(self, model: torch.nn.Module, head_names: list[str]) -> torch.nn.Module:
        heads = head_modules(model, head_names)
        biases = [p for name, p in model.named_parameters() if name.endswith("bias")]
        freeze_all_but(model, biases + [p for head in heads for p in head.parameters()])
        return model

    def save(self, model: torch.nn.Module, directory: Path, *,
             state_dict: dict[str, torch.Tensor] | None = None) -> None:
        save_plain(model, directory, state_dict)

    def load(self, directory: Path, build_base: Callable[[str], torch.nn.Module]) -> torch.nn.Module:
        return load_plain(directory, build_base)
