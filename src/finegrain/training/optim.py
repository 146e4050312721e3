"""AdamW with decoupled weight decay (none on biases and norms), warmup + linear decay, and clipping."""

from __future__ import annotations

import math

import torch
from accelerate import Accelerator
from accelerate.utils import DistributedType
from transformers import get_linear_schedule_with_warmup

from finegrain.config import TrainConfig
from finegrain.methods.base import FittedMethod, TrainedMethod

__all__ = ["build_optimizer", "build_schedule", "clip_gradients", "warmup_steps", "resolve_lr"]


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


def resolve_lr(train: TrainConfig, method: TrainedMethod | FittedMethod, task: str | None = None) -> float:
    """``train.lr`` when set; otherwise the method's measured lr for ``task`` (its ``task_lr``), else its
    ``default_lr`` (a fitted method trains through the loop only when it has one)."""
    if train.lr is not None:
        return float(train.lr)
    return float(method.task_lr.get(task, method.default_lr))


def clip_gradients(accelerator: Accelerator, parameters: list[torch.nn.Parameter], max_norm: float) -> torch.Tensor:
    """``accelerator.clip_grad_norm_``, except that on CPU gradients already within ``max_norm`` are left alone.

    PyTorch multiplies every gradient by ``min(1, max_norm / (norm + 1e-6))`` on every step, a
    pass over all of them that only avoids a device sync on GPU. On CPU there is no sync to avoid,
    and multiplying by 1 changes nothing, so the pass is skipped when the factor is 1: the same
    gradients, bit for bit (tests/unit/test_clipping.py). Fine-tuning gradients are mostly within
    ``max_norm`` once warmup is over, so most steps skip the pass (measured on tweet-ner when this was
    added: commit 4f57652). Elsewhere (GPU, FSDP, DeepSpeed) accelerate clips.
    """
    if accelerator.device.type != "cpu" or accelerator.distributed_type not in (DistributedType.NO,
                                                                                DistributedType.MULTI_CPU):
        return accelerator.clip_grad_norm_(parameters, max_norm)
    accelerator.unscale_gradients()  # a no-op without an fp16 gradient scaler
    total = torch.nn.utils.get_total_norm([p.grad for p in parameters if p.grad is not None])
    if float(max_norm / (total + 1e-6)) < 1.0:  # PyTorch's own factor, before it is clamped to 1
        torch.nn.utils.clip_grads_with_norm_(parameters, max_norm, total)
    return total
