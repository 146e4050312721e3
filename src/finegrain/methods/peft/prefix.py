"""Prefix tuning: trainable key/value prefixes in every attention layer (Li & Liang, 2021; P-tuning v2)."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

import torch
from pydantic import Field

from finegrain.config import Section
from finegrain.methods.peft.common import PeftMethod, check_virtual_tokens, max_positions, task_type
from finegrain.methods.peft.wrappers import PrefixKeyValues
from finegrain.registry import METHODS

if TYPE_CHECKING:
    from peft import PeftConfig, PeftModel

__all__ = ["PrefixTuning", "PrefixParams"]


class PrefixParams(Section):
    num_virtual_tokens: int = Field(20, ge=1)  # prefix length per layer; 10-20 suffices for NLU (P-tuning v2)
    projection: bool = False  # MLP reparametrisation: steadier for generation, optional for encoders
    projection_size: int | None = Field(None, ge=1)  # hidden size of that MLP; None: the model's


@METHODS.register("prefix", aliases=("prefix-tuning", "p-tuning-v2"))
class PrefixTuning(PeftMethod):
    """Trainable key/value prefixes in every attention layer (Li & Liang, 2021; P-tuning v2)."""

    name: ClassVar[str] = "prefix"
    Params: ClassVar[type[PrefixParams]] = PrefixParams
    mergeable: ClassVar[bool] = False
    default_lr: ClassVar[float] = 3e-2  # the best of a 3-point sweep (benchmarks/lr_sweep.py; docs/performance.md)
    # PEFT saves the virtual tokens recomputed from the live module, a shard under FSDP or ZeRO-3, and not
    # from the gathered weights it is given (tests/unit/test_distributed.py)
    saves_sharded: ClassVar[bool] = False
    tiny_params: ClassVar[dict[str, int]] = {"num_virtual_tokens": 4}  # fits the tests' max_length 32
    max_length: int | None = None

    def check_against(self, max_length: int) -> None:
        """The prefix shifts the text's positions: fail early if both cannot fit."""
        check_virtual_tokens(self.params.num_virtual_tokens, max_length, None)
        self.max_length = max_length

    def peft_config(self, model: torch.nn.Module, head_names: list[str]) -> PeftConfig:
        check_virtual_tokens(self.params.num_virtual_tokens, self.max_length, max_positions(model))
        p = self.params
        from peft import PrefixTuningConfig

        return PrefixTuningConfig(
            task_type=task_type(model), num_virtual_tokens=p.num_virtual_tokens,
            prefix_projection=p.projection, encoder_hidden_size=p.projection_size,
            modules_to_save=list(head_names),
        )

    def wrap(self, model: PeftModel) -> torch.nn.Module:
        return PrefixKeyValues(model)
