"""The method interfaces: how a pretrained model is adapted (which parameters train, what is saved).

A method is one of two kinds, chosen by name from one registry (``finegrain.registry.METHODS``):

- :class:`TrainedMethod`: adapts a transformers model that the one training loop trains (full,
  LoRA, adapters, ...). The task hands it its head module names: the head is always trained and saved.
- :class:`FittedMethod`: fits on the training examples itself and predicts log-probabilities (TF-IDF,
  frozen embeddings, SetFit; their pair versions for pair classification); SetFit's pair fine-tuning
  still goes through the loop, by its context.

Subclass the protocol: the optional hooks get their defaults (no-ops, or checks from declared
members), and registration refuses a class that lacks a member (docs/extending.md lists them).
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Literal, Protocol, TypeGuard, runtime_checkable

import numpy as np
import torch
from pydantic import BaseModel

from finegrain.errors import ConfigError, ModelError
from finegrain.registry import METHODS

if TYPE_CHECKING:
    from finegrain.methods.estimators.base import EstimatorContext, FitStats
    from finegrain.tasks.base import Task

__all__ = ["MethodBasics", "TrainedMethod", "FittedMethod", "Method", "EncoderSource", "is_fitted",
           "supporting_methods", "count_parameters", "base_model_path", "name_base_model"]

# Where a fitted method's encoder comes from: "none" (no encoder), "saved" (fine-tuned, saved in the
# run), "base" (the run's base model, loaded again: the run saves only what it fitted on top)
EncoderSource = Literal["none", "saved", "base"]


class MethodBasics(Protocol):
    """What every method declares, whichever kind it is."""

    name: ClassVar[str]
    Params: ClassVar[type[BaseModel]]
    mergeable: ClassVar[bool]  # can be folded into plain base weights for export
    tasks: ClassVar[tuple[str, ...] | None] = None  # the tasks it supports; None: every task
    # a measured lr for one task (e.g. {"ner": 1e-3}) in place of default_lr there
    task_lr: ClassVar[Mapping[str, float]] = {}
    # measured parameters for one task, filled into the config where it leaves them unset
    task_params: ClassVar[Mapping[str, Mapping[str, Any]]] = {}
    # parameters for the contract tests' tiny model (2 layers, 32 wide, max_length 32, a few dozen steps)
    # where the defaults do not fit it: tests/contract reads them, so no test list names the method
    tiny_params: ClassVar[Mapping[str, Any]] = {}

    def check_against(self, max_length: int) -> None:
        """Fail early (ConfigError) when the method cannot work with ``model.max_length`` (virtual tokens)."""

    def check_task(self, task: Task) -> None:
        """Fail early (ConfigError, naming the methods that do) when the method does not support ``task``."""
        if self.tasks is not None and task.name not in self.tasks:
            raise ConfigError(f"Method '{self.name}' does not support the '{task.name}' task.", where="method.name",
                              hint=f"Methods for '{task.name}': {', '.join(supporting_methods(task.name))}.")


@runtime_checkable
class TrainedMethod(MethodBasics, Protocol):
    """A method whose model the training loop trains; its hooks are called in this order:
    ``check_against`` and ``check_task`` (before data is read), ``set_total_steps`` then ``apply``
    (before training), ``on_step`` (after each optimizer step), ``save`` (each best model), ``load``
    (evaluation, prediction), ``merge`` (export)."""

    default_lr: ClassVar[float]  # learning rate used when train.lr is not set
    # False: save() cannot write weights gathered from processes that each hold a shard (FSDP, ZeRO-3)
    saves_sharded: ClassVar[bool] = True

    def set_total_steps(self, total_steps: int) -> None:
        """The run's optimizer steps, before ``apply``: for a method that schedules itself (AdaLoRA)."""

    @abstractmethod
    def apply(self, model: torch.nn.Module, head_names: list[str]) -> torch.nn.Module:
        """Return the model to train, with exactly the intended parameters requiring grad."""

    def on_step(self, model: torch.nn.Module, step: int) -> None:
        """After each optimizer step, before the gradients are zeroed (AdaLoRA re-allocates ranks from them)."""

    @abstractmethod
    def save(self, model: torch.nn.Module, directory: Path, *,
             state_dict: dict[str, torch.Tensor] | None = None) -> None:
        """Write what :meth:`load` needs into ``directory`` (safetensors, HF/PEFT formats).

        ``state_dict``, when given, holds the weights to write, keyed as ``model.state_dict()``: the
        full weights gathered from all processes when each holds a shard of ``model`` (FSDP, ZeRO-3).
        """

    @abstractmethod
    def load(self, directory: Path, build_base: Callable[[str], torch.nn.Module]) -> torch.nn.Module:
        """Restore a trained model from ``directory``.

        ``build_base(path)`` builds the task's model (with its head and label names) from a
        model folder: ``full`` loads its own saved folder, adapter methods their base model, by the
        name :func:`base_model_path` gave at ``apply`` (the caller resolves it).
        """

    def merge(self, model: torch.nn.Module) -> torch.nn.Module:
        """The trained model as plain transformers weights, for export. By default a ``mergeable`` method
        changed no architecture (full, freeze, bitfit), so its model is returned as it is; an adapter that
        folds into the weights (LoRA) overrides this, and a method that cannot merge is refused."""
        if not self.mergeable:
            raise ModelError(f"Method '{self.name}' cannot be merged into plain weights: its extra modules have"
                             " no plain-weight equivalent.", hint="Serve the run as it is (finegrain serve RUN).")
        return model


@runtime_checkable
class FittedMethod(MethodBasics, Protocol):
    """A method that fits on the training texts and predicts log-probabilities (an estimator); what it
    needs from the training layer (encoders, batched embedding, the loop) comes through its context."""

    mergeable: ClassVar[bool] = False  # nothing to fold into transformer weights
    default_lr: ClassVar[float | None] = None  # the lr of its fine-tuning through the loop; None: it has none
    encoder: ClassVar[EncoderSource]  # where the encoder it predicts with comes from

    @abstractmethod
    def fit(self, examples: list[Any], targets: np.ndarray, context: EstimatorContext) -> FitStats:
        """Fit on the training examples, as the task's ``predict_inputs`` gives them (texts; pairs of texts for
        pair classification), and the task's ``fit_targets``: their class ids (0..K-1, every class present);
        spelling: the target texts."""

    @abstractmethod
    def log_probs(self, examples: list[Any], context: EstimatorContext) -> np.ndarray:
        """(len(examples), K) log-probabilities in input order; they serve as the run's logits."""

    @abstractmethod
    def save(self, directory: Path) -> None:
        """Write what :meth:`load` needs into ``directory``, in safe formats (no pickle)."""

    @abstractmethod
    def load(self, directory: Path, context: EstimatorContext) -> FittedMethod:
        """Restore the fitted state saved in ``directory``; returns ``self``."""


Method = TrainedMethod | FittedMethod


def is_fitted(method: Method) -> TypeGuard[FittedMethod]:
    """Whether ``method`` fits on texts itself (an estimator) rather than being trained by the loop."""
    return isinstance(method, FittedMethod)


def supporting_methods(task: str, *, trained_only: bool = False) -> list[str]:
    """The registered methods that support ``task`` (only those the loop trains, with ``trained_only``)."""
    return [name for name, cls in METHODS.items() if (cls.tasks is None or task in cls.tasks)
            and not (trained_only and METHODS.protocol(name) is FittedMethod)]


def count_parameters(model: torch.nn.Module) -> tuple[int, int]:
    """(trainable, total) parameter counts of the model as it predicts.

    PEFT keeps a frozen, unused copy of each ``modules_to_save`` head (``original_module``);
    it is left out so that the total does not count the head twice.
    """
    used = [p for name, p in model.named_parameters() if ".original_module." not in name]
    trainable = sum(p.numel() for p in used if p.requires_grad)
    total = sum(p.numel() for p in used)
    return trainable, total


def base_model_path(model: torch.nn.Module) -> str:
    """The name adapter methods record for the base model (PEFT's ``base_model_name_or_path``).

    It is the model's ``name_or_path``, recorded as given, as transformers and PEFT do: the name
    the model was loaded by. Training runs set it to a portable reference (a registered name, or
    a folder relative to the run; :func:`name_base_model`), never an absolute path.
    """
    path = getattr(model, "name_or_path", "") or getattr(getattr(model, "config", None), "_name_or_path", "")
    if not path:
        raise ModelError(
            f"{type(model).__name__} does not record the folder it was loaded from (config._name_or_path).",
            hint="Build the model with AutoModelFor*.from_pretrained(path) so the adapter can find its base.",
        )
    return str(path)


def name_base_model(model: torch.nn.Module, reference: str) -> None:
    """Give ``model`` the name an adapter records for it (see :func:`base_model_path`).

    ``config._name_or_path`` is not written to config.json, so a saved full model is unchanged.
    """
    model.name_or_path = reference
    model.config.name_or_path = reference
