"""Prompt tuning: trainable soft-prompt embeddings prepended to the input (Lester et al., 2021)."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar, Literal

import torch
from pydantic import Field

from finegrain.config import Section
from finegrain.methods.peft.common import VirtualTokenMethod, task_type
from finegrain.methods.peft.wrappers import VirtualTokenTrim
from finegrain.registry import METHODS
from finegrain.searchable import searchable

if TYPE_CHECKING:
    from peft import PeftConfig, PeftModel

__all__ = ["PromptTuning", "PromptParams"]


class PromptParams(Section):
    # soft prompt length; 20 is Lester et al.'s sweet spot
    num_virtual_tokens: int = Field(20, ge=1, json_schema_extra=searchable(choices=[5, 10, 20]))
    init: Literal["sample-vocab", "random"] = "sample-vocab"  # vocabulary init beats random (Lester et al.)


@METHODS.register("prompt", aliases=("prompt-tuning", "soft-prompt"))
class PromptTuning(VirtualTokenMethod):
    """Trainable soft-prompt embeddings prepended to the input (Lester et al., 2021)."""

    name: ClassVar[str] = "prompt"
    Params: ClassVar[type[PromptParams]] = PromptParams
    mergeable: ClassVar[bool] = False
    default_lr: ClassVar[float] = 1e-2  # a 3-point sweep found none better (benchmarks/lr_sweep.py)

    def peft_config(self, model: torch.nn.Module, head_names: list[str]) -> PeftConfig:
        p = self.checked_params(model)
        from peft import PromptTuningConfig, PromptTuningInit

        init = PromptTuningInit.SAMPLE_VOCAB if p.init == "sample-vocab" else PromptTuningInit.RANDOM
        return PromptTuningConfig(
            task_type=task_type(model), num_virtual_tokens=p.num_virtual_tokens,
            prompt_tuning_init=init, modules_to_save=list(head_names),
        )

    def wrap(self, model: PeftModel) -> torch.nn.Module:
        from peft import TaskType

        config = model.active_peft_config
        if config.task_type == TaskType.TOKEN_CLS:
            return VirtualTokenTrim(model, config.num_virtual_tokens)
        return model
