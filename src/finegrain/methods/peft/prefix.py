"""Prefix tuning: trainable key/value prefixes in every attention layer (Li & Liang, 2021; P-tuning v2)."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

import torch
from pydantic import Field

from finegrain.config import Section
from finegrain.methods.peft.common import VirtualTokenMethod, task_type
from finegrain.methods.peft.wrappers import PrefixKeyValues
from finegrain.registry import METHODS
from finegrain.searchable import searchable

if TYPE_CHECKING:
    from peft import PeftConfig, PeftModel

__all__ = ["PrefixTuning", "PrefixParams"]


class PrefixParams(Section):
    # prefix length per layer; 10-20 suffices for NLU (P-tuning v2)
    num_virtual_tokens: int = Field(20, ge=1, json_schema_extra=searchable(choices=[5, 10, 20]))
    projection: bool = False  # MLP reparametrisation: steadier for generation, optional for encoders
    projection_size: int | None = Field(None, ge=1)  # hidden size of that MLP; None: the model's


@METHODS.register("prefix", aliases=("prefix-tuning", "p-tuning-v2"))
class PrefixTuning(VirtualTokenMethod):
    """Trainable key/value prefixes in every attention layer (Li & Liang, 2021; P-tuning v2)."""

    name: ClassVar[str] = "prefix"
    Params: ClassVar[type[PrefixParams]] = PrefixParams
    mergeable: ClassVar[bool] = False
    default_lr: ClassVar[float] = 3e-2  # the best of a 3-point sweep (benchmarks/lr_sweep.py; docs/performance.md)

    def peft_config(self, model: torch.nn.Module, head_names: list[str]) -> PeftConfig:
        p = self.checked_params(model)
        from peft import PrefixTuningConfig

        return PrefixTuningConfig(
            task_type=task_type(model), num_virtual_tokens=p.num_virtual_tokens,
            prefix_projection=p.projection, encoder_hidden_size=p.projection_size,
            modules_to_save=list(head_names),
        )

    def wrap(self, model: PeftModel) -> torch.nn.Module:
        return PrefixKeyValues(model)
