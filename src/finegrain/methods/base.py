"""The method interface: how a pretrained model is adapted (which parameters train, what is saved).

The task hands the method its head module names: the head is always trained and always saved.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import ClassVar, Protocol

import torch
from pydantic import BaseModel

from finegrain.errors import ModelError

__all__ = ["Method", "count_parameters", "base_model_path", "name_base_model"]


class Method(Protocol):
    name: ClassVar[str]
    Params: ClassVar[type[BaseModel]]
    mergeable: ClassVar[bool]  # can be folded into plain base weights for export
    default_lr: ClassVar[float]  # learning rate used when train.lr is not set
    # optional ``task_lr: ClassVar[dict[str, float]]``: a measured lr for one task (e.g. {"ner": 1e-3}) that
    # takes the place of default_lr there; optional ``task_params: ClassVar[dict[str, dict[str, Any]]]``:
    # measured parameters for one task, filled into the config where it leaves them unset

    def apply(self, model: torch.nn.Module, head_names: list[str]) -> torch.nn.Module:
        """Return the model to train, with exactly the intended parameters requiring grad."""

    def save(self, model: torch.nn.Module, directory: Path, *,
             state_dict: dict[str, torch.Tensor] | None = None) -> None:
        """Write what :meth:`load` needs into ``directory`` (safetensors, HF/PEFT formats).

        ``state_dict``, when given, holds the weights to write, keyed as ``model.state_dict()``: the
        full weights gathered from all processes when each holds a shard of ``model`` (FSDP, ZeRO-3).
        """

    def load(self, directory: Path, build_base: Callable[[str], torch.nn.Module]) -> torch.nn.Module:
        """Restore a trained model from ``directory``.

        ``build_base(path)`` builds the task's model (with its head and label names) from a
        model folder: ``full`` loads its own saved folder, adapter methods their base model, by the
        name :func:`base_model_path` gave at ``apply`` (the caller resolves it).
        """


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
