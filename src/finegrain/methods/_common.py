"""Helpers shared by the methods: finding encoder parts, choosing what trains, plain save/load.

Methods find the parts of a BERT-like encoder generically (``model.base_model`` plus a few
known attribute paths) so that one method file works for BERT, RoBERTa, MiniLM, ELECTRA, ...
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path

import torch
from torch import nn

from finegrain.errors import ConfigError, ModelError

__all__ = [
    "LAYER_PATHS",
    "encoder_layers",
    "embeddings",
    "head_modules",
    "freeze_all_but",
    "linear_names",
    "check_target_modules",
    "save_plain",
    "load_plain",
]

LAYER_PATHS = ("encoder.layer", "transformer.layer", "encoder.layers", "layers")
"""Where BERT-like backbones keep their stack of transformer layers (BERT/RoBERTa, DistilBERT, ...)."""


def _backbone(model: nn.Module) -> nn.Module:
    return getattr(model, "base_model", model)


def encoder_layers(model: nn.Module) -> nn.ModuleList:
    """The backbone's list of transformer layers, bottom first."""
    backbone = _backbone(model)
    for path in LAYER_PATHS:
        try:
            found = backbone.get_submodule(path)
        except AttributeError:
            continue
        if isinstance(found, nn.ModuleList):
            return found
    raise ModelError(
        f"Cannot find the encoder layers of {type(model).__name__}: looked for "
        f"{', '.join('base_model.' + path for path in LAYER_PATHS)}.",
        hint="Use a BERT-like encoder, or the 'full', 'linear-probe', 'bitfit' or 'lora' methods.",
    )


def embeddings(model: nn.Module) -> nn.Module:
    """The backbone's embedding block (word, position, type embeddings and their LayerNorm)."""
    backbone = _backbone(model)
    found = getattr(backbone, "embeddings", None)
    return found if isinstance(found, nn.Module) else model.get_input_embeddings()


def head_modules(model: nn.Module, head_names: list[str]) -> list[nn.Module]:
    """Resolve the task's head module names; a wrong name is a config error listing valid ones."""
    modules = []
    for name in head_names:
        try:
            modules.append(model.get_submodule(name))
        except AttributeError:
            choices = [child for child, _ in model.named_children()]
            raise ConfigError(
                f"Head module '{name}' is not in {type(model).__name__}. Its top-level modules: "
                f"{', '.join(choices)}.",
                where="method",
                hint="Pass the head module names that the task's model really has.",
            ) from None
    return modules


def freeze_all_but(model: nn.Module, trainable: Iterable[nn.Parameter]) -> None:
    """Freeze every parameter of ``model`` except ``trainable`` (matched by identity)."""
    keep = {id(parameter) for parameter in trainable}
    for parameter in model.parameters():
        parameter.requires_grad_(id(parameter) in keep)


def linear_names(model: nn.Module, head_names: list[str]) -> list[str]:
    """Short names that select the backbone's linear layers (last one or two name parts).

    These are the names PEFT's ``target_modules`` matches by suffix, e.g. ``query`` or
    ``attention.output.dense``. Head modules are left out: the head trains in full.
    """
    names: set[str] = set()
    for full_name, module in model.named_modules():
        if isinstance(module, nn.Linear) and not _under(full_name, head_names):
            parts = full_name.split(".")
            names.add(parts[-1])
            names.add(".".join(parts[-2:]) if len(parts) > 1 else parts[-1])
            if len(parts) > 2 and not parts[-3].isdigit():
                names.add(".".join(parts[-3:]))
    return sorted(names)


def _under(name: str, prefixes: list[str]) -> bool:
    return any(name == prefix or name.startswith(prefix + ".") for prefix in prefixes)


def check_target_modules(model: nn.Module, targets: list[str], head_names: list[str], where: str) -> None:
    """Raise a ConfigError for target module names that match no linear layer of the model."""
    modules = [
        full for full, module in model.named_modules()
        if isinstance(module, nn.Linear) and not _under(full, head_names)
    ]
    missing = [t for t in targets if not any(m == t or m.endswith("." + t) for m in modules)]
    if missing:
        raise ConfigError(
            f"Target module(s) {', '.join(repr(t) for t in missing)} match no linear layer of "
            f"{type(model).__name__}. Valid names for this model: {', '.join(linear_names(model, head_names))}.",
            where=where,
            hint="Pick names from that list, or use 'all-linear'.",
        )


def save_plain(model: nn.Module, directory: Path, state_dict: dict[str, torch.Tensor] | None = None) -> None:
    """Save a plain transformers model (safetensors + config): it opens with ``from_pretrained``."""
    model.save_pretrained(directory, state_dict=state_dict)


def load_plain(directory: Path, build_base: Callable[[str], torch.nn.Module]) -> torch.nn.Module:
    """Load what :func:`save_plain` wrote, through the task's model builder (keeps label names)."""
    return build_base(str(directory))
