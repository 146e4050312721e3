"""IA3: learned rescaling vectors on keys, values and feed-forward activations (Liu et al., 2022)."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

import torch

from finegrain.config import Section
from finegrain.errors import ConfigError
from finegrain.methods._common import check_target_modules
from finegrain.methods.peft.common import PeftMethod, task_type
from finegrain.registry import METHODS

if TYPE_CHECKING:
    from peft import PeftConfig

__all__ = ["IA3", "IA3Params"]


class IA3Params(Section):
    # PEFT's own BERT mapping. Note "output.dense" also matches attention.output.dense.
    target_modules: list[str] = ["key", "value", "output.dense"]  # rescale keys, values, FFN (Liu et al.)
    feedforward_modules: list[str] = ["output.dense"]  # scaled on their input: the FFN activation


@METHODS.register("ia3")
class IA3(PeftMethod):
    """Learned rescaling vectors on keys, values and feed-forward activations (Liu et al., 2022)."""

    name: ClassVar[str] = "ia3"
    Params: ClassVar[type[IA3Params]] = IA3Params
    mergeable: ClassVar[bool] = True
    default_lr: ClassVar[float] = 9e-3  # the best of a 3-point sweep (benchmarks/lr_sweep.py; docs/performance.md)

    def peft_config(self, model: torch.nn.Module, head_names: list[str]) -> PeftConfig:
        p = self.params
        check_target_modules(model, p.target_modules, head_names, "method.target_modules")
        stray = [name for name in p.feedforward_modules if name not in p.target_modules]
        if stray:
            raise ConfigError(
                f"feedforward_modules {stray} are not among target_modules {p.target_modules}.",
                where="method.feedforward_modules",
                hint="Every feed-forward module must also be a target module; add it to target_modules.",
            )
        from peft import IA3Config

        return IA3Config(
            task_type=task_type(model), target_modules=list(p.target_modules),
            feedforward_modules=list(p.feedforward_modules), modules_to_save=list(head_names),
        )
