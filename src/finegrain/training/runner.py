"""A training run from a validated config: prepare, train, evaluate the best model, write it all.

Estimator methods (``kind = "estimator"``) share the preparation and the run directory, then take
the short path in :mod:`finegrain.training.estimator_runner`.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import torch
from accelerate import Accelerator, DataLoaderConfiguration
from accelerate.state import AcceleratorState, GradientState, PartialState
from accelerate.utils import set_seed

from finegrain.config import RunConfig, TrainConfig
from finegrain.errors import ConfigError
from finegrain.methods.base import count_parameters, name_base_model
from finegrain.tasks.modeling import quiet_transformers
from finegrain.training.batching import LengthGroupedBatchSampler
from finegrain.training.checkpoint import write_json_atomic
from finegrain.training.distributed import evaluation_shard, save_gathered
from finegrain.training.estimator_runner import is_estimator, run_estimator
from finegrain.training.loop import evaluate_split, fit, planned_total_steps
from finegrain.training.optim import resolve_lr
from finegrain.training.precision import autocast_dtype, resolve_precision
from finegrain.training.run_base import base_builder
from finegrain.training.run_dir import RunDir, check_model_kept
from finegrain.training.run_guard import guard_run
from finegrain.training.run_record import check_labels_unchanged, finish_run, library_versions, open_output, run_info
from finegrain.training.setup import Prepared, prepare

__all__ = ["RunResult", "run_training", "library_versions", "build_accelerator", "resolve_lr"]


@dataclass
class RunResult:
    run_dir: Path
    metrics: dict[str, dict[str, Any]]


def build_accelerator(train: TrainConfig) -> Accelerator:
    device = "cuda" if torch.cuda.is_available() else "cpu"
    if not PartialState._shared_state or PartialState().num_processes == 1:
        # accelerate keeps one global state per process; several runs in one process (a study,
        # a notebook) each choose their own precision, so it is reset between single-process runs.
        AcceleratorState._reset_state(reset_partial_state=False)
        GradientState._reset_state()
    accelerator = Accelerator(
        mixed_precision=resolve_precision(train.precision, device),
        gradient_accumulation_steps=train.grad_accum,
        cpu=device == "cpu",  # lets torchrun-launched processes on a CPU machine use gloo (MULTI_CPU)
        # Each process takes a share of every batch, so batch_size means the same on 1 or N processes.
        dataloader_config=DataLoaderConfiguration(split_batches=True),
    )
    if train.batch_size % accelerator.num_processes:
        raise ConfigError(f"train.batch_size={train.batch_size} is not divisible by the {accelerator.num_processes} processes.",
                          hint=f"Use a multiple of {accelerator.num_processes}.")
    return accelerator


def run_training(config: RunConfig, *, resume: bool = False, overwrite: bool = False) -> RunResult:
    """Train, keep the best checkpoint, evaluate it on validation and test, write the run dir."""
    started = time.perf_counter()
    set_seed(config.train.seed)
    prepared = prepare(config)
    accelerator = build_accelerator(config.train)
    run = open_output(accelerator, config, resume=resume, overwrite=overwrite)
    with guard_run(run, accelerator):
        metrics = _train_into(run, config, prepared, accelerator, resume=resume, started=started)
    return RunResult(run.final, metrics)


def _train_into(run: RunDir, config: RunConfig, prepared: Prepared, accelerator: Accelerator, *, resume: bool,
                started: float) -> dict[str, dict[str, Any]]:
    """Everything written into the open run folder; returns the metrics."""
    if run.is_finished() and resume:
        check_model_kept(run)
        return json.loads(run.metrics.read_text(encoding="utf-8"))
    check_labels_unchanged(run, prepared.labels)
    if is_estimator(prepared.method):
        return run_estimator(config, prepared, accelerator, run, started)
    set_seed(config.train.seed)
    model = prepared.task.build_model(prepared.model_path, prepared.labels, random_init=config.model.random_init)
    name_base_model(model, prepared.base_reference)  # what adapter methods record: portable, not this machine's path
    _plan_method(prepared, config.train)
    model = prepared.method.apply(model, prepared.task.head_names(model))
    trainable, total = count_parameters(model)
    lr = resolve_lr(config.train, prepared.method, prepared.task.name)
    info = run_info(config, prepared.model_path, prepared.labels, prepared.splits, accelerator, trainable, total,
                    base_model=prepared.base_reference)
    info["lr"] = lr
    if accelerator.is_main_process:
        prepared.labels.save(run.labels)
        write_json_atomic(run.info, info)

    def save_best(trained: torch.nn.Module) -> None:  # every process: gathering sharded weights is a collective
        save_gathered(accelerator, trained, run.model, partial(_save_model, prepared))

    pad_id = prepared.tokenizer.pad_token_id or 0
    result = fit(accelerator=accelerator, model=model, task=prepared.task, method=prepared.method,
                 labels=prepared.labels, train_features=prepared.features["train"],
                 validation=prepared.splits.get("validation"), validation_features=prepared.features.get("validation"),
                 train=config.train, lr=lr, pad_id=pad_id, run=run, save_best=save_best, resume=resume)
    accelerator.wait_for_everyone()
    metrics = _final_metrics(prepared, run, accelerator, config.train.eval_batch_size, pad_id)
    if accelerator.is_main_process:
        state = result.state
        info.update(best_step=state.best_step, best_metric=state.best_metric, stopped_early=state.stopped_early,
                    steps=state.global_step, total_steps=result.total_steps)
        finish_run(run, config, info, metrics, train_seconds=state.train_seconds, samples=state.samples_seen,
                   peak_memory_mb=result.peak_memory_mb, peak_rss_mb=result.peak_rss_mb, started=started)
    return metrics


def _plan_method(prepared: Prepared, train: TrainConfig) -> None:
    """Tell a method that schedules itself (AdaLoRA) the run's optimizer steps, before ``apply``."""
    hook = getattr(prepared.method, "set_total_steps", None)
    if hook is not None:
        sampler = LengthGroupedBatchSampler([len(f["input_ids"]) for f in prepared.features["train"]],
                                            train.batch_size, train.seed, group_by_length=train.group_by_length)
        hook(planned_total_steps(len(sampler), train))


def _save_model(prepared: Prepared, model: torch.nn.Module, state_dict: dict[str, torch.Tensor], folder: Path) -> None:
    with quiet_transformers():
        prepared.method.save(model, folder, state_dict=state_dict)
        prepared.tokenizer.save_pretrained(folder)


def _final_metrics(prepared: Prepared, run: RunDir, accelerator: Accelerator, batch_size: int,
                   pad_id: int) -> dict[str, dict[str, Any]]:
    """Reload the best saved model (as a user would) and evaluate it on validation and test, each
    process on its share of the batches."""
    task, labels = prepared.task, prepared.labels
    build_base = base_builder(task, labels, run, hints=(prepared.model_path,))
    best = prepared.method.load(run.model, build_base).to(accelerator.device)
    dtype = autocast_dtype(accelerator.mixed_precision)
    metrics = {}
    for name in ("validation", "test"):
        if name in prepared.splits:
            metrics[name], _ = evaluate_split(best, task, prepared.splits[name], prepared.features[name], labels,
                                              batch_size=batch_size, pad_id=pad_id, device=accelerator.device,
                                              dtype=dtype, shard=evaluation_shard(accelerator))
    return metrics
