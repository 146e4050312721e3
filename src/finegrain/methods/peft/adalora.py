"""AdaLoRA: LoRA whose rank budget moves to the most important layers during training (Zhang et al., 2023)."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

import torch
from pydantic import Field, model_validator

from finegrain.config import Section
from finegrain.errors import ConfigError, ModelError
from finegrain.methods.peft.common import PeftMethod, Targets, targets, task_type
from finegrain.methods.peft.wrappers import unwrap_peft
from finegrain.registry import METHODS
from finegrain.searchable import searchable

if TYPE_CHECKING:
    from peft import PeftConfig

__all__ = ["AdaLora", "AdaLoraParams"]


class AdaLoraParams(Section):
    init_r: int = Field(12, ge=1)  # starting rank per layer, pruned down during training
    target_r: int = Field(8, ge=1)  # average final rank: LoRA's default budget
    alpha: float = Field(32, gt=0, json_schema_extra=searchable(8, 64, log=True))  # PEFT's AdaLoRA default
    dropout: float = Field(0.1, ge=0, lt=1, json_schema_extra=searchable(0.0, 0.3))
    target_modules: Targets = ["query", "value"]
    total_step: int | None = Field(None, ge=1)  # None: the loop fills it via set_total_steps()
    warmup_fraction: float = Field(0.1, ge=0, lt=1)  # steps before pruning: importance needs a warm start
    final_fraction: float = Field(0.2, ge=0, lt=1)  # steps at the final budget, to settle the kept ranks

    @model_validator(mode="after")
    def _consistent(self) -> AdaLoraParams:
        if self.target_r > self.init_r:
            raise ValueError(f"target_r ({self.target_r}) must not exceed init_r ({self.init_r})")
        if self.warmup_fraction + self.final_fraction >= 1:
            raise ValueError("warmup_fraction + final_fraction must be below 1, leaving steps to prune ranks")
        return self


@METHODS.register("adalora")
class AdaLora(PeftMethod):
    """LoRA whose rank budget is reallocated to the most important layers (Zhang et al., 2023).

    Needs the number of optimizer steps: ``set_total_steps(n)`` before ``apply``, and
    ``on_step(model, step)`` after every optimizer step, before gradients are zeroed.
    """

    name: ClassVar[str] = "adalora"
    Params: ClassVar[type[AdaLoraParams]] = AdaLoraParams
    mergeable: ClassVar[bool] = True  # AdaLoRA layers are LoRA layers: merge_and_unload works
    default_lr: ClassVar[float] = 3e-3  # the best of a 3-point sweep (benchmarks/lr_sweep.py; docs/performance.md)

    def set_total_steps(self, total_steps: int) -> None:
        """Take the schedule's optimizer step count, unless ``total_step`` was set explicitly."""
        if self.params.total_step is None:
            self.params = self.params.model_copy(update={"total_step": max(1, int(total_steps))})

    def peft_config(self, model: torch.nn.Module, head_names: list[str]) -> PeftConfig:
        p = self.params
        if p.total_step is None:
            raise ConfigError(
                "AdaLoRA needs the number of training steps (method.total_step) before apply().",
                where="method.total_step",
                hint="Set method.total_step, or call set_total_steps(n) from the training loop first.",
            )
        from peft import AdaLoraConfig

        return AdaLoraConfig(
            task_type=task_type(model), init_r=p.init_r, target_r=p.target_r, lora_alpha=p.alpha,
            lora_dropout=p.dropout, total_step=p.total_step,
            tinit=int(p.warmup_fraction * p.total_step), tfinal=int(p.final_fraction * p.total_step),
            target_modules=targets(model, p.target_modules, head_names, "method.target_modules"),
            modules_to_save=list(head_names),
        )

    def on_step(self, model: torch.nn.Module, step: int) -> None:
        """Update importance scores and prune ranks; call after optimizer.step(), before zero_grad().

        The importance of each rank is |weight x gradient|, so the gradients must still be there.
        """
        peft_model = unwrap_peft(model)
        if any(p.grad is None for n, p in peft_model.named_parameters() if "lora_" in n and p.requires_grad):
            raise ModelError(
                "AdaLoRA's on_step() found no gradients: its rank allocation scores |weight x gradient|.",
                hint="Call method.on_step(model, step) after optimizer.step() and before optimizer.zero_grad().",
            )
        peft_model.base_model.update_and_allocate(step)
