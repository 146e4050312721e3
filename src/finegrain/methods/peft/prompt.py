"""Prompt tuning: trainable soft-prompt embeddings prepended to the input (Lester et al., 2021)."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar, Literal

import torch
from pydantic import Field

from finegrain.config import Section
from finegrain.methods.peft.common import PeftMethod, check_virtual_tokens, max_positions, task_type
from finegrain.methods.peft.wrappers import VirtualTokenTrim
from finegrain.registry import METHODS

if TYPE_CHECKING:
    from peft import PeftConfig, PeftModel

__all__ = ["PromptTuning", "PromptParams"]


class PromptParams(Section):
    num_virtual_tokens: int = Field(20, ge=1)  # soft prompt length; 20 is Lester et al.'s sweet spot
    init: Literal["sample-vocab", "random"] = "sample-vocab"  # vocabulary init beats random (Lester et al.)


@METHODS.register("prompt", aliases=("prompt-tuning", "soft-prompt"))
class PromptTuning(PeftMethod):
    """Trainable soft-prompt embeddings prepended to the input (Lester et al., 2021)."""

    name: ClassVar[str] = "prompt"
    Params: ClassVar[type[PromptParams]] = PromptParams
    mergeable: ClassVar[bool] = False
    default_lr: ClassVar[float] = 1e-2  # a 3-point sweep found none better (benchmarks/lr_sweep.py)
    # PEFT saves the virtual tokens recomputed from the live module, a shard under FSDP or ZeRO-3, and not
    # from the gathered weights it is given (tests/unit/test_distributed.py)
    saves_sharded: ClassVar[bool] = False
    tiny_params: ClassVar[dict[str, int]] = {"num_virtual_tokens": 4}  # fits the tests' max_length 32
    max_length: int | None = None

    def check_against(self, max_length: int) -> None:
        """The soft prompt takes part of the sequence: fail early if it leaves no room for the text."""
        check_virtual_tokens(self.params.num_virtual_tokens, max_length, None)
        self.max_length = max_length

    def peft_config(self, model: torch.nn.Module, head_names: list[str]) -> PeftConfig:
        check_virtual_tokens(self.params.num_virtual_tokens, self.max_length, max_positions(model))
        p = self.params
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
