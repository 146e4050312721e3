"""A training run from a validated config: prepare, train, evaluate the best model, write it all.

Fitted methods (:class:`~finegrain.methods.base.FittedMethod`: tfidf, embeddings-lr, setfit) share the
preparation and the run directory, then take the short path in :mod:`finegrain.training.estimator_runner`.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import torch
from accelerate import Accelerator, DataLoaderConfiguration
from accelerate.state import AcceleratorState, GradientState, PartialState
from accelerate.utils import set_seed

from finegrain.config import RunConfig, TrainConfig, dump_config
from finegrain.errors import ConfigError
from finegrain.methods.base import TrainedMethod, count_parameters, is_fitted, name_base_model
from finegrain.tasks.modeling import quiet_transformers
from finegrain.training.batching import LengthGroupedBatchSampler
from finegrain.training.checkpoint import TrainerState
from finegrain.training.distributed import check_sharded_saving, evaluation_shard, save_gathered, weights_sharded
from finegrain.training.estimator_runner import run_estimator
from finegrain.training.loop import FitInputs, fit, planned_total_steps
from finegrain.training.optim import resolve_lr
from finegrain.training.precision import autocast_dtype, resolve_precision
from finegrain.training.run_base import base_builder
from finegrain.training.run_dir import RunResult, run_dir_for
from finegrain.training.run_record import (check_labels_unchanged, fine_tuned_model_card, library_versions,
                                           report_title, run_info)
from finegrain.training.run_recorder import RunRecorder
from finegrain.training.setup import Prepared, prepare
from finegrain.training.tracking import log_to_trackers, tracker_options, tracking
from finegrain.training.validation import TaskValidation, evaluate_split

__all__ = ["RunResult", "run_training", "library_versions", "build_accelerator", "resolve_lr", "adapted_model"]


def build_accelerator(train: TrainConfig, run_path: Path | None = None) -> Accelerator:
    """The run's Accelerator; ``run_path`` (the folder the run writes to) holds the trackers' files."""
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
        **tracker_options(train.report_to, run_path),
    )
    if train.batch_size % accelerator.num_processes:
        raise ConfigError(f"train.batch_size={train.batch_size} is not divisible by the {accelerator.num_processes} processes.",
                          hint=f"Use a multiple of {accelerator.num_processes}.")
    return accelerator


def run_training(config: RunConfig, *, resume: bool = False, overwrite: bool = False,
                 on_evaluate: Callable[[TrainerState, float], bool] | None = None) -> RunResult:
    """Train, keep the best checkpoint, evaluate it on validation and test, write the run dir.

    ``on_evaluate`` is the loop's (:class:`~finegrain.training.loop.FitInputs`): told each validation score,
    True stops training there (``finegrain tune``'s pruning)."""
    started = time.perf_counter()
    set_seed(config.train.seed)
    prepared = prepare(config)
    accelerator = build_accelerator(config.train, run_dir_for(config.output, overwrite=overwrite).path)
    check_sharded_saving(prepared.method, weights_sharded(accelerator))
    recorder = RunRecorder.open(accelerator, config.output, dump_config(config), resume=resume, overwrite=overwrite,
                                started=started)
    with recorder.guard(), tracking(accelerator, recorder.run.path, config.output, config.model_dump(mode="json")):
        metrics = _train_into(recorder, config, prepared, resume=resume, on_evaluate=on_evaluate)
        log_to_trackers(accelerator, metrics)  # the best model's validation and test metrics
    return RunResult(recorder.run.final, metrics)


def _train_into(recorder: RunRecorder, config: RunConfig, prepared: Prepared, *, resume: bool,
                on_evaluate: Callable[[TrainerState, float], bool] | None = None) -> dict[str, dict[str, Any]]:
    """Everything written into the open run folder; returns the metrics."""
    finished = recorder.finished_metrics() if resume else None
    if finished is not None:
        return finished
    run, accelerator, method = recorder.run, recorder.accelerator, prepared.method
    check_labels_unchanged(run, prepared.labels)
    if is_fitted(method):
        return run_estimator(config, prepared, method, recorder)
    model = adapted_model(prepared, method, config.train, random_init=config.model.random_init)
    trainable, total = count_parameters(model)
    lr = resolve_lr(config.train, method, prepared.task.name)
    info = run_info(config, prepared.model_path, prepared.labels, prepared.splits, accelerator, trainable, total,
                    base_model=prepared.base_reference)
    info["lr"] = lr
    if accelerator.is_main_process:
        prepared.labels.save(run.labels)
    recorder.write_info(info)

    def save_best(trained: torch.nn.Module) -> None:  # every process: gathering sharded weights is a collective
        save_gathered(accelerator, trained, run.model, partial(_save_model, prepared, method))

    validation = TaskValidation(prepared.task, prepared.splits["validation"], prepared.features["validation"],
                                prepared.labels) if "validation" in prepared.splits else None
    pad_id = prepared.tokenizer.pad_token_id or 0
    inputs = FitInputs(model, prepared.task, prepared.features["train"], config.train, lr, pad_id,
                       validation=validation, save_best=save_best, on_step=method.on_step,
                       on_evaluate=on_evaluate)
    result = fit(accelerator, run, inputs, resume=resume)
    accelerator.wait_for_everyone()
    metrics = _final_metrics(prepared, method, recorder, config.train.eval_batch_size, pad_id)
    state = result.state
    info.update(best_step=state.best_step, best_metric=state.best_metric, stopped_early=state.stopped_early,
                steps=state.global_step, total_steps=result.total_steps)
    recorder.finish(info, metrics, result.costs, card=lambda: fine_tuned_model_card(config, info, metrics, run.model),
                    report=(prepared.task.report, report_title(config)))
    return metrics


def adapted_model(prepared: Prepared, method: TrainedMethod, train: TrainConfig, *,
                  random_init: bool = False) -> torch.nn.Module:
    """The model the loop trains: the task's model, named by its portable base reference (what adapter
    methods record), then the method's hooks in training's order: ``set_total_steps`` with the run's
    planned optimizer steps (AdaLoRA's schedule), then ``apply``."""
    set_seed(train.seed)
    model = prepared.task.build_model(prepared.model_path, prepared.labels, random_init=random_init)
    name_base_model(model, prepared.base_reference)
    sampler = LengthGroupedBatchSampler([len(f["input_ids"]) for f in prepared.features["train"]], train.batch_size,
                                        train.seed, group_by_length=train.group_by_length)
    method.set_total_steps(planned_total_steps(len(sampler), train))
    return method.apply(model, prepared.task.head_names(model))


def _save_model(prepared: Prepared, method: TrainedMethod, model: torch.nn.Module,
                state_dict: dict[str, torch.Tensor], folder: Path) -> None:
    with quiet_transformers():
        method.save(model, folder, state_dict=state_dict)
        prepared.tokenizer.save_pretrained(folder)


def _final_metrics(prepared: Prepared, method: TrainedMethod, recorder: RunRecorder, batch_size: int,
                   pad_id: int) -> dict[str, dict[str, Any]]:
    """Reload the best saved model (as a user would) and evaluate it on validation and test, each
    process on its share of the batches."""
    task, labels, accelerator = prepared.task, prepared.labels, recorder.accelerator
    build_base = base_builder(task, labels, recorder.run, hints=(prepared.model_path,))
    best = method.load(recorder.run.model, build_base).to(accelerator.device)
    dtype = autocast_dtype(accelerator.mixed_precision)
    metrics = {}
    for name in ("validation", "test"):
        if name in prepared.splits:
            metrics[name], _ = evaluate_split(best, task, prepared.splits[name], prepared.features[name], labels,
                                              batch_size=batch_size, pad_id=pad_id, device=accelerator.device,
                                              dtype=dtype, shard=evaluation_shard(accelerator))
    return metrics
