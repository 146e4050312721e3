"""Full fine-tuning: every parameter trains; the result is a plain transformers model."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import ClassVar

import torch

from finegrain.config import Section
from finegrain.methods.base import TrainedMethod
from finegrain.registry import METHODS

__all__ = ["FullFineTuning", "FullParams"]


class FullParams(Section):
    """Full fine-tuning has no parameters of its own."""


@METHODS.register("full", aliases=("full-finetuning", "finetune"))
class FullFineTuning(TrainedMethod):
    """Train all weights. The saved folder opens with ``AutoModelFor*.from_pretrained``."""

    name: ClassVar[str] = "full"
    Params: ClassVar[type[FullParams]] = FullParams
    mergeable: ClassVar[bool] = True
    default_lr: ClassVar[float] = 5e-5  # the BERT paper's range (2e-5 to 5e-5): every weight moves
    # NER: 5e-5 under-trains a token head in 3 epochs of tweet-ner; 1.5e-4 did best of three rates
    # (benchmarks/methods.py --task ner; benchmarks/results/methods-ner.json)
    task_lr: ClassVar[dict[str, float]] = {"ner": 1.5e-4}

    def __init__(self, params: FullParams | None = None):
        self.params = params or FullParams()

    def apply(self, model: torch.nn.Module, head_names: list[str]) -> torch.nn.Module:
        for parameter in model.parameters():
            parameter.requires_grad_(True)
        return model

    def save(self, model: torch.nn.Module, directory: Path, *,
             state_dict: dict[str, torch.Tensor] | None = None) -> None:
        model.save_pretrained(directory, state_dict=state_dict)

    def load(self, directory: Path, build_base: Callable[[str], torch.nn.Module]) -> torch.nn.Module:
        return build_base(str(directory))
