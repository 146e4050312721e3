"""LoRA: low-rank updates to chosen linear layers (Hu et al., 2021), merged into the base for export."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

import torch
from pydantic import Field

from finegrain.config import Section
from finegrain.methods.peft.common import PeftMethod, Targets, targets, task_type
from finegrain.registry import METHODS
from finegrain.searchable import searchable

if TYPE_CHECKING:
    from peft import PeftConfig

__all__ = ["Lora", "LoraParams"]


class LoraParams(Section):
    # rank: 8 matches full fine-tuning on GLUE-size tasks (Hu et al.)
    r: int = Field(8, ge=1, json_schema_extra=searchable(choices=[4, 8, 16, 32]))
    # scale alpha/r = 2, the common setting for r=8
    alpha: float = Field(16, gt=0, json_schema_extra=searchable(4, 64, log=True))
    # regularises the low-rank path on small datasets
    dropout: float = Field(0.1, ge=0, lt=1, json_schema_extra=searchable(0.0, 0.3))
    target_modules: Targets = ["query", "value"]  # the paper's choice: attention query and value


@METHODS.register("lora")
class Lora(PeftMethod):
    """Low-rank updates to the chosen linear layers (Hu et al., 2021); merges into the base."""

    name: ClassVar[str] = "lora"
    Params: ClassVar[type[LoraParams]] = LoraParams
    mergeable: ClassVar[bool] = True
    default_lr: ClassVar[float] = 1.5e-3  # the best of a 3-point sweep (benchmarks/lr_sweep.py; docs/performance.md)
    # Token tagging needs every layer adapted: query/value alone trailed full fine-tuning far on tweet-ner, every
    # linear layer at a lower rank closed most of the gap, and no dropout did best (it also spares the copy of each
    # adapted layer's input that peft's dropout keeps). Measured: benchmarks/results/ner_lora_seeds.md.
    task_params: ClassVar[dict[str, dict[str, Any]]] = {
        "ner": {"target_modules": "all-linear", "r": 4, "alpha": 8, "dropout": 0.0}}

    def peft_config(self, model: torch.nn.Module, head_names: list[str]) -> PeftConfig:
        p = self.params
        from peft import LoraConfig

        return LoraConfig(
            task_type=task_type(model), r=p.r, lora_alpha=p.alpha, lora_dropout=p.dropout,
            target_modules=targets(model, p.target_modules, head_names, "method.target_modules"),
            modules_to_save=list(head_names),
        )
