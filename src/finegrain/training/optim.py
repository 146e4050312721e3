"""AdamW with decoupled weight decay (none on biases and norms) and warmup + linear decay."""

from __future__ import annotations

import math
from typing import Any

import torch
from transformers import get_linear_schedule_with_warmup

from finegrain.config import TrainConfig

__all__ = ["build_optimizer", "build_schedule", "warmup_steps", "resolve_lr"]


def build_optimizer(model: torch.nn.Module, lr: float, weight_decay: float) -> torch.optim.Optimizer:
    decay, no_decay = [], []
    for name, parameter in model.named_parameters():
        if not parameter.requires_grad:
            continue
        (no_decay if parameter.ndim < 2 or "norm" in name.lower() else decay).append(parameter)
    groups = [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]
    # The fused kernel updates all parameters in one pass: fewer memory sweeps than foreach.
    return torch.optim.AdamW([g for g in groups if g["params"]], lr=lr, fused=True)


def warmup_steps(warmup: float, total_steps: int) -> int:
    """``warmup`` below 1 is a fraction of the optimizer steps, otherwise a step count."""
    return math.ceil(warmup * total_steps) if warmup < 1 else int(warmup)


def build_schedule(optimizer: torch.optim.Optimizer, warmup: float, total_steps: int):
    return get_linear_schedule_with_warmup(optimizer, warmup_steps(warmup, total_steps), total_steps)


def resolve_lr(train: TrainConfig, method: Any, task: str | None = None) -> float:
    """``train.lr`` when set; otherwise the method's measured lr for ``task`` (its ``task_lr``), else its
    ``default_lr`` (5e-5 for a method without one)."""
    if train.lr is not None:
        return float(train.lr)
    per_task = getattr(method, "task_lr", {})
    return float(per_task.get(task, getattr(method, "default_lr", 5e-5)))
