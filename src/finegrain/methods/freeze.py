"""Partial freezing: the embeddings and the bottom encoder layers stay fixed, the rest trains.

Lower layers hold general lexical features that transfer as they are; freezing them saves
memory and guards small datasets against overfitting, while the top layers still adapt.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import ClassVar

import torch
from pydantic import Field

from finegrain.config import Section
from finegrain.errors import ConfigError
from finegrain.methods._common import embeddings, encoder_layers, head_modules, load_plain, save_plain
from finegrain.methods.base import TrainedMethod
from finegrain.registry import METHODS

__all__ = ["Freeze", "FreezeParams"]


class FreezeParams(Section):
    layers: int = Field(3, ge=0)  # bottom layers to freeze: half of the 6-layer default MiniLM


@METHODS.register("freeze", aliases=("partial-freeze", "freeze-bottom"))
class Freeze(TrainedMethod):
    """Freeze the embeddings and the bottom ``layers`` encoder layers; train the rest and the head.

    Example:
        >>> method = Freeze(FreezeParams(layers=1))  # doctest: +SKIP
        >>> model = method.apply(model, ["classifier"])  # doctest: +SKIP
    """

    name: ClassVar[str] = "freeze"
    Params: ClassVar[type[FreezeParams]] = FreezeParams
    mergeable: ClassVar[bool] = True
    default_lr: ClassVar[float] = 3e-4  # the best of a 3-point sweep (benchmarks/lr_sweep.py)
    tiny_params: ClassVar[dict[str, int]] = {"layers": 1}  # the tests' tiny model has 2 layers

    def __init__(self, params: FreezeParams | None = None):
        self.params = params or FreezeParams()

    def apply(self, model: torch.nn.Module, head_names: list[str]) -> torch.nn.Module:
        layers = encoder_layers(model)
        if self.params.layers > len(layers):
            raise ConfigError(
                f"method.layers is {self.params.layers}, but {type(model).__name__} has only "
                f"{len(layers)} encoder layers.",
                where="method.layers",
                hint=f"Choose 0 to {len(layers)} ({len(layers)} freezes the whole encoder, like linear-probe).",
            )
        heads = head_modules(model, head_names)
        for parameter in model.parameters():
            parameter.requires_grad_(True)
        for module in [embeddings(model), *layers[: self.params.layers]]:
            module.requires_grad_(False)
        for head in heads:  # a head never freezes, even if it sits inside a frozen block
            head.requires_grad_(True)
        return model

    def save(self, model: torch.nn.Module, directory: Path, *,
             state_dict: dict[str, torch.Tensor] | None = None) -> None:
        save_plain(model, directory, state_dict)

    def load(self, directory: Path, build_base: Callable[[str], torch.nn.Module]) -> torch.nn.Module:
        return load_plain(directory, build_base)
