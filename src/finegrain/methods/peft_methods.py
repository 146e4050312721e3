"""PEFT methods: LoRA, AdaLoRA, IA3, prefix tuning and prompt tuning, through ``get_peft_model``.

Each method turns its ``Params`` into a PEFT config; the task's head modules always go into
``modules_to_save``, otherwise PEFT silently leaves the head untrained and unsaved (PEFT
issues #310, #577, #876). Saved folders are standard PEFT folders (adapter_config.json +
adapter_model.safetensors, head included) whose ``base_model_name_or_path`` is the base model's
name (:func:`~finegrain.methods.base.base_model_path`): in a training run, a registered name or
a folder relative to the run (:mod:`finegrain.models.base_reference`), so the run can be moved.

Of the optional hooks of :class:`~finegrain.methods.base.TrainedMethod`, AdaLoRA uses
``set_total_steps(n)`` (its schedule) and ``on_step(model, step)`` (its rank allocation reads the
gradients), prefix and prompt tuning ``check_against(max_length)`` (their tokens must fit), and
LoRA, AdaLoRA and IA3 ``merge(model)`` for export.
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Literal

import torch
from pydantic import Field, model_validator

from finegrain.config import Section
from finegrain.errors import ConfigError, ModelError
from finegrain.methods._common import check_target_modules, head_modules
from finegrain.methods.base import TrainedMethod, base_model_path
from finegrain.methods.peft_wrappers import PrefixKeyValues, VirtualTokenTrim, unwrap_peft
from finegrain.registry import METHODS
from finegrain.tasks.modeling import quiet_transformers

if TYPE_CHECKING:  # peft is imported where used: it costs ~2.5 s, and name lookups load this module
    from peft import PeftConfig, PeftModel, TaskType

__all__ = [
    "AdaLora", "AdaLoraParams", "IA3", "IA3Params", "Lora", "LoraParams", "PrefixTuning",
    "PrefixParams", "PromptTuning", "PromptParams", "task_type",
]

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


class _PeftMethod(TrainedMethod):
    """Shared apply/save/load; a subclass only says how its Params become a PEFT config."""

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


def _targets(model: torch.nn.Module, targets: Targets, head_names: list[str], where: str) -> Targets:
    if targets != "all-linear":
        check_target_modules(model, list(targets), head_names, where)
    return targets


class LoraParams(Section):
    r: int = Field(8, ge=1)  # rank: 8 matches full fine-tuning on GLUE-size tasks (Hu et al.)
    alpha: float = Field(16, gt=0)  # scale alpha/r = 2, the common setting for r=8
    dropout: float = Field(0.1, ge=0, lt=1)  # regularises the low-rank path on small datasets
    target_modules: Targets = ["query", "value"]  # the paper's choice: attention query and value


@METHODS.register("lora")
class Lora(_PeftMethod):
    """Low-rank updates to the chosen linear layers (Hu et al., 2021); merges into the base."""

    name: ClassVar[str] = "lora"
    Params: ClassVar[type[LoraParams]] = LoraParams
    mergeable: ClassVar[bool] = True
    default_lr: ClassVar[float] = 1.5e-3  # measured (benchmarks/lr_sweep.py: tweet-sentiment 2k x 2 epochs, validation macro-F1 0.224/0.593/0.691 at 1.5e-4/5e-4/1.5e-3)
    # Token tagging needs every layer adapted: on tweet-ner (seed 0, 3 epochs, 1.5e-3), query/value at r=8 reached
    # validation entity F1 0.394 against full fine-tuning's 0.526; every linear layer at r=4, alpha 8 reached 0.469
    # with dropout 0.1 and 0.489 with none (0.77% trained). Dropout 0 also keeps the activations at full
    # fine-tuning's size: peft's dropout saves a mask and a copy of each adapted layer's input (benchmarks/README.md).
    task_params: ClassVar[dict[str, dict[str, Any]]] = {
        "ner": {"target_modules": "all-linear", "r": 4, "alpha": 8, "dropout": 0.0}}

    def peft_config(self, model: torch.nn.Module, head_names: list[str]) -> PeftConfig:
        p = self.params
        from peft import LoraConfig

        return LoraConfig(
            task_type=task_type(model), r=p.r, lora_alpha=p.alpha, lora_dropout=p.dropout,
            target_modules=_targets(model, p.target_modules, head_names, "method.target_modules"),
            modules_to_save=list(head_names),
        )

    def merge(self, model: torch.nn.Module) -> torch.nn.Module:
        return merge_peft(model)


class AdaLoraParams(Section):
    init_r: int = Field(12, ge=1)  # starting rank per layer, pruned down during training
    target_r: int = Field(8, ge=1)  # average final rank: LoRA's default budget
    alpha: float = Field(32, gt=0)  # PEFT's AdaLoRA default
    dropout: float = Field(0.1, ge=0, lt=1)
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
class AdaLora(_PeftMethod):
    """LoRA whose rank budget is reallocated to the most important layers (Zhang et al., 2023).

    Needs the number of optimizer steps: ``set_total_steps(n)`` before ``apply``, and
    ``on_step(model, step)`` after every optimizer step, before gradients are zeroed.
    """

    name: ClassVar[str] = "adalora"
    Params: ClassVar[type[AdaLoraParams]] = AdaLoraParams
    mergeable: ClassVar[bool] = True  # AdaLoRA layers are LoRA layers: merge_and_unload works
    default_lr: ClassVar[float] = 3e-3  # measured (benchmarks/lr_sweep.py: tweet-sentiment 2k x 2 epochs, validation macro-F1 0.348/0.598/0.684 at 3e-4/1e-3/3e-3)

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
            target_modules=_targets(model, p.target_modules, head_names, "method.target_modules"),
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

    def merge(self, model: torch.nn.Module) -> torch.nn.Module:
        return merge_peft(model)


class IA3Params(Section):
    # PEFT's own BERT mapping. Note "output.dense" also matches attention.output.dense.
    target_modules: list[str] = ["key", "value", "output.dense"]  # rescale keys, values, FFN (Liu et al.)
    feedforward_modules: list[str] = ["output.dense"]  # scaled on their input: the FFN activation


@METHODS.register("ia3")
class IA3(_PeftMethod):
    """Learned rescaling vectors on keys, values and feed-forward activations (Liu et al., 2022)."""

    name: ClassVar[str] = "ia3"
    Params: ClassVar[type[IA3Params]] = IA3Params
    mergeable: ClassVar[bool] = True
    default_lr: ClassVar[float] = 9e-3  # measured (benchmarks/lr_sweep.py: tweet-sentiment 2k x 2 epochs, validation macro-F1 0.407/0.587/0.686 at 9e-4/3e-3/9e-3)

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

    def merge(self, model: torch.nn.Module) -> torch.nn.Module:
        return merge_peft(model)


def _check_virtual_tokens(tokens: int, max_length: int | None, max_positions: int | None) -> None:
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


class _VirtualTokenChecks:
    """``check_against`` for methods that add virtual tokens (a mixin of two small methods)."""

    params: Any
    max_length: int | None = None

    def check_against(self, max_length: int) -> None:
        """Called by the loop with model.max_length; fails early if the tokens cannot fit."""
        _check_virtual_tokens(self.params.num_virtual_tokens, max_length, None)
        self.max_length = max_length

    def _check_model(self, model: torch.nn.Module) -> None:
        positions = getattr(model.config, "max_position_embeddings", None)
        _check_virtual_tokens(self.params.num_virtual_tokens, self.max_length, positions)


class PrefixParams(Section):
    num_virtual_tokens: int = Field(20, ge=1)  # prefix length per layer; 10-20 suffices for NLU (P-tuning v2)
    projection: bool = False  # MLP reparametrisation: steadier for generation, optional for encoders
    projection_size: int | None = Field(None, ge=1)  # hidden size of that MLP; None: the model's


@METHODS.register("prefix", aliases=("prefix-tuning", "p-tuning-v2"))
class PrefixTuning(_VirtualTokenChecks, _PeftMethod):
    """Trainable key/value prefixes in every attention layer (Li & Liang, 2021; P-tuning v2)."""

    name: ClassVar[str] = "prefix"
    Params: ClassVar[type[PrefixParams]] = PrefixParams
    mergeable: ClassVar[bool] = False
    default_lr: ClassVar[float] = 3e-2  # measured (benchmarks/lr_sweep.py: tweet-sentiment 2k x 2 epochs, validation macro-F1 0.577/0.602/0.659 at 3e-3/1e-2/3e-2)

    def peft_config(self, model: torch.nn.Module, head_names: list[str]) -> PeftConfig:
        self._check_model(model)
        p = self.params
        from peft import PrefixTuningConfig

        return PrefixTuningConfig(
            task_type=task_type(model), num_virtual_tokens=p.num_virtual_tokens,
            prefix_projection=p.projection, encoder_hidden_size=p.projection_size,
            modules_to_save=list(head_names),
        )

    def wrap(self, model: PeftModel) -> torch.nn.Module:
        return PrefixKeyValues(model)


class PromptParams(Section):
    num_virtual_tokens: int = Field(20, ge=1)  # soft prompt length; 20 is Lester et al.'s sweet spot
    init: Literal["sample-vocab", "random"] = "sample-vocab"  # vocabulary init beats random (Lester et al.)


@METHODS.register("prompt", aliases=("prompt-tuning", "soft-prompt"))
class PromptTuning(_VirtualTokenChecks, _PeftMethod):
    """Trainable soft-prompt embeddings prepended to the input (Lester et al., 2021)."""

    name: ClassVar[str] = "prompt"
    Params: ClassVar[type[PromptParams]] = PromptParams
    mergeable: ClassVar[bool] = False
    default_lr: ClassVar[float] = 1e-2  # measured (benchmarks/lr_sweep.py: tweet-sentiment 2k x 2 epochs, validation macro-F1 0.575/0.586/0.588 at 3e-3/1e-2/3e-2: 3e-2 within noise, kept)

    def peft_config(self, model: torch.nn.Module, head_names: list[str]) -> PeftConfig:
        self._check_model(model)
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
