"""What the PEFT methods share: PEFT's task type, the apply/save/load of a PEFT model, merging, checks.

Each method (``lora.py``, ``adalora.py``, ``ia3.py``, ``prefix.py``, ``prompt.py``) subclasses
:class:`PeftMethod` and says only how its ``Params`` become a PEFT config. The task's head modules
always go into ``modules_to_save``, otherwise PEFT silently leaves the head untrained and unsaved
(PEFT issues #310, #577, #876). Saved folders are standard PEFT folders (adapter_config.json +
adapter_model.safetensors, head included) whose ``base_model_name_or_path`` is the base model's
name (:func:`~finegrain.methods.base.base_model_path`): in a training run, a registered name or
a folder relative to the run (:mod:`finegrain.models.base_reference`), so the run can be moved.
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar, Literal

import torch

from finegrain.config import Section
from finegrain.errors import ConfigError, ModelError
from finegrain.methods._common import check_target_modules, head_modules
from finegrain.methods.base import TrainedMethod, base_model_path
from finegrain.methods.peft.wrappers import unwrap_peft
from finegrain.tasks.modeling import quiet_transformers

if TYPE_CHECKING:  # peft is imported where used: it is slow to import, and name lookups load these modules
    from peft import PeftConfig, PeftModel, TaskType

__all__ = ["PeftMethod", "Targets", "task_type", "merge_peft", "targets", "check_virtual_tokens", "max_positions"]

Targets = list[str] | Literal["all-linear"]


def task_type(model: torch.nn.Module) -> TaskType:
    """PEFT's task type from the model class (``config.architectures`` may be None)."""
    from peft import TaskType

    class_name = type(model).__name__
    if class_name.endswith("ForSequenceClassification"):
        return TaskType.SEQ_CLS
    if class_name.endswith("ForTokenClassification"):
        return TaskType.TOKEN_CLS
    raise ModelError(
        f"PEFT methods need a *ForSequenceClassification or *ForTokenClassification model, got {class_name}.",
        hint="Use the 'full', 'freeze', 'bitfit', 'linear-probe' or 'adapter' method for other heads.",
    )


def merge_peft(model: torch.nn.Module) -> torch.nn.Module:
    """Fold the adapter into the base weights: a plain transformers model with the trained head."""
    return unwrap_peft(model).merge_and_unload()


class PeftMethod(TrainedMethod):
    """Shared apply/save/load/merge; a method only says how its Params become a PEFT config."""

    mergeable: ClassVar[bool] = False

    def __init__(self, params: Section | None = None):
        self.params = params or self.Params()

    @abstractmethod
    def peft_config(self, model: torch.nn.Module, head_names: list[str]) -> PeftConfig:
        """The PEFT config of this method for ``model``, with the head modules in ``modules_to_save``."""

    def wrap(self, model: PeftModel) -> torch.nn.Module:
        """The module the loop trains; the PeftModel itself unless a method must adjust outputs."""
        return model

    def apply(self, model: torch.nn.Module, head_names: list[str]) -> torch.nn.Module:
        from peft import get_peft_model

        head_modules(model, head_names)
        base_path = base_model_path(model)
        with quiet_transformers():
            peft_model = get_peft_model(model, self.peft_config(model, head_names))
        peft_model.active_peft_config.base_model_name_or_path = base_path
        return self.wrap(peft_model)

    def save(self, model: torch.nn.Module, directory: Path, *,
             state_dict: dict[str, torch.Tensor] | None = None) -> None:
        # PEFT filters the adapter's weights out of ``state_dict`` (keyed as the PeftModel's), except
        # prefix and prompt tuning's virtual tokens, which it recomputes from the live module.
        peft_model = unwrap_peft(model)
        if state_dict is not None and peft_model is not model:  # keyed as the PeftWrapper around it
            state_dict = {key.removeprefix("peft_model."): value for key, value in state_dict.items()}
        # save_embedding_layers: PEFT's "auto" looks the recorded base up (on the hub, for a registered name
        # such as 'default') to see if the vocabulary grew; methods here adapt linear layers only.
        peft_model.save_pretrained(directory, state_dict=state_dict, save_embedding_layers=False)

    def load(self, directory: Path, build_base: Callable[[str], torch.nn.Module]) -> torch.nn.Module:
        from peft import PeftConfig, PeftModel

        base_path = PeftConfig.from_pretrained(str(directory)).base_model_name_or_path
        if not base_path:
            raise ModelError(f"{directory}/adapter_config.json does not name its base model.")
        base = build_base(base_path)
        with quiet_transformers():
            return self.wrap(PeftModel.from_pretrained(base, str(directory)))

    def merge(self, model: torch.nn.Module) -> torch.nn.Module:
        """Fold the adapter into the base weights (LoRA, AdaLoRA, IA3); the others are refused."""
        return merge_peft(model) if self.mergeable else super().merge(model)


def targets(model: torch.nn.Module, targets: Targets, head_names: list[str], where: str) -> Targets:
    """``targets`` after checking that each name matches a linear layer of ``model`` (or all-linear)."""
    if targets != "all-linear":
        check_target_modules(model, list(targets), head_names, where)
    return targets


def check_virtual_tokens(tokens: int, max_length: int | None, max_positions: int | None) -> None:
    """Virtual tokens take part of the sequence (prompt) or shift the positions (prefix)."""
    if max_length is not None and tokens >= max_length:
        raise ConfigError(
            f"method.num_virtual_tokens is {tokens}, not shorter than model.max_length {max_length}.",
            where="method.num_virtual_tokens",
            hint=f"Use fewer virtual tokens (e.g. {max(1, max_length // 8)}) or a longer model.max_length.",
        )
    if max_positions is not None and tokens + (max_length or 1) > max_positions:
        raise ConfigError(
            f"method.num_virtual_tokens ({tokens}) + model.max_length ({max_length}) exceeds the "
            f"model's {max_positions} position embeddings.",
            where="method.num_virtual_tokens",
            hint=f"Keep num_virtual_tokens + max_length <= {max_positions}.",
        )


def max_positions(model: torch.nn.Module) -> int | None:
    """How many positions the model's position embeddings hold (None if its config does not say)."""
    return getattr(model.config, "max_position_embeddings", None)
