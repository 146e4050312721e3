"""What several processes change in a run: the best model is gathered before it is saved, and
evaluation is split between the processes, then gathered, so every process holds the same scores.

Saving. Under FSDP and DeepSpeed ZeRO-3 each process holds a shard of the weights, and
``accelerator.get_state_dict`` gathers them: a collective, so every process calls it, and the main
process writes the full state dict through the method's ``save`` (HF/PEFT formats). Under plain DDP,
MULTI_CPU or one process it returns the unwrapped model's own ``state_dict()``: the files are
those ``save(model)`` alone writes.

Evaluating. Each process runs its :class:`~finegrain.training.inference.Shard` of the batches; the
logits are gathered (as Python objects: NER logits differ in length) and put back in input order,
and each process computes the metrics on the whole split. Every process so takes the same
best-model and early-stopping decision, which it must now that saving is collective.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from accelerate import Accelerator
from accelerate.utils import DistributedType, gather_object

from finegrain.errors import ConfigError, ModelError
from finegrain.methods.base import FittedMethod, TrainedMethod, is_fitted
from finegrain.training.checkpoint import atomic_write_dir
from finegrain.training.inference import Collate, Shard, predict_logits, predict_shard

__all__ = ["weights_sharded", "check_sharded_saving", "evaluation_model", "evaluation_shard", "save_gathered", "sharded_logits"]

StateDict = dict[str, torch.Tensor]


def weights_sharded(accelerator: Accelerator) -> bool:
    """True when a process may hold only part of the weights (FSDP, DeepSpeed)."""
    return accelerator.distributed_type in (DistributedType.FSDP, DistributedType.DEEPSPEED)


def check_sharded_saving(method: TrainedMethod | FittedMethod, sharded: bool) -> None:
    """Refuse, before anything is written, a method that cannot save a model whose weights are sharded
    (a fitted method fits in the main process: nothing of it is sharded)."""
    if sharded and not is_fitted(method) and not method.saves_sharded:
        raise ConfigError(f"Method '{method.name}' cannot be trained with sharded weights (FSDP or DeepSpeed ZeRO-3):"
                          " PEFT saves its virtual tokens from this process's shard, not from the gathered weights.",
                          where="method.name", hint="Launch it with plain data parallelism (accelerate launch"
                          " --multi_gpu): its few trainable weights fit on every device.")


def evaluation_model(accelerator: Accelerator, prepared: torch.nn.Module) -> torch.nn.Module:
    """The module to run evaluation on: the prepared one when weights are sharded (FSDP's root unit
    gathers its weights in its own forward), else the unwrapped one (DDP's forward broadcasts
    buffers, a collective that processes with unequal shares of batches would wait on forever)."""
    return prepared if weights_sharded(accelerator) else accelerator.unwrap_model(prepared)


def evaluation_shard(accelerator: Accelerator, *, lockstep: bool = False) -> Shard:
    """This process's share of an evaluation (``lockstep`` for a model whose forward is a collective)."""
    return Shard(accelerator.process_index, accelerator.num_processes, lockstep)


def save_gathered(accelerator: Accelerator, prepared: torch.nn.Module, target: Path,
                  write: Callable[[torch.nn.Module, StateDict, Path], None]) -> None:
    """Gather the full weights of ``prepared`` and let the main process ``write(model, state_dict, folder)``
    into ``target`` atomically. Every process must call this (the gathering is a collective)."""
    state_dict = accelerator.get_state_dict(prepared)
    if accelerator.is_main_process:
        model = accelerator.unwrap_model(prepared)
        atomic_write_dir(target, lambda folder: write(model, state_dict, folder))
    accelerator.wait_for_everyone()


def sharded_logits(model: torch.nn.Module, features: list[dict[str, Any]], collate: Collate, *, batch_size: int,
                   device: torch.device, dtype: torch.dtype | None, shard: Shard) -> list[np.ndarray]:
    """Logits per feature in input order, each process running only its ``shard``; every process
    must call this when ``shard.processes > 1`` (the gathering is a collective)."""
    if shard.processes == 1 and not shard.lockstep:
        return predict_logits(model, features, collate, batch_size=batch_size, device=device, dtype=dtype)
    local = predict_shard(model, features, collate, batch_size=batch_size, device=device, dtype=dtype, shard=shard)
    pairs = list(local.items())
    return in_input_order(gather_object(pairs) if shard.processes > 1 else pairs, len(features))


def in_input_order(pairs: list[tuple[int, np.ndarray]], count: int) -> list[np.ndarray]:
    """The gathered ``(index, logits)`` pairs of all processes as one list in input order."""
    results: list[np.ndarray | None] = [None] * count
    for index, logits in pairs:
        results[index] = logits
    missing = [index for index, logits in enumerate(results) if logits is None]
    if missing or len(pairs) != count:
        raise ModelError(f"Gathered {len(pairs)} logits for {count} examples (missing indices {missing[:5]}).",
                         hint="Every process must evaluate the same features with the same batch size.")
    return results  # type: ignore[return-value]
