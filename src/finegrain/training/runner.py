"""A training run from a validated config: prepare, train, evaluate the best model, write it all."""

from __future__ import annotations

import json
import platform
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path
from typing import Any

import torch
from accelerate import Accelerator, DataLoaderConfiguration
from accelerate.state import AcceleratorState, GradientState, PartialState
from accelerate.utils import set_seed

from finegrain.config import RunConfig, TrainConfig, dump_config
from finegrain.data.labels import LabelMap
from finegrain.errors import ConfigError, RunDirError
from finegrain.evaluation.report import write_report
from finegrain.methods.base import count_parameters
from finegrain.tasks.modeling import quiet_transformers
from finegrain.training.checkpoint import atomic_write_dir, write_json_atomic
from finegrain.training.batching import LengthGroupedBatchSampler
from finegrain.training.loop import evaluate_split, fit, planned_total_steps
from finegrain.training.precision import autocast_dtype, resolve_precision
from finegrain.training.run_dir import RunDir, prepare_run_dir
from finegrain.training.setup import Prepared, prepare

__all__ = ["RunResult", "run_training", "library_versions", "build_accelerator", "resolve_lr"]


@dataclass
class RunResult:
    run_dir: Path
    metrics: dict[str, dict[str, Any]]


def library_versions() -> dict[str, str]:
    names = ("finegrain", "torch", "transformers", "accelerate", "peft", "datasets", "scikit-learn", "seqeval")
    versions = {"python": platform.python_version()}
    for name in names:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return versions


def resolve_lr(train: TrainConfig, method: Any) -> float:
    """``train.lr`` when set; otherwise the method's ``default_lr`` (5e-5 for a method without one)."""
    return float(train.lr if train.lr is not None else getattr(method, "default_lr", 5e-5))


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
    run = _open_output(accelerator, config, resume=resume, overwrite=overwrite)
    if run.is_finished() and resume:
        return RunResult(run.path, json.loads(run.metrics.read_text(encoding="utf-8")))
    _check_labels_unchanged(run, prepared)
    set_seed(config.train.seed)
    model = prepared.task.build_model(prepared.model_path, prepared.labels, random_init=config.model.random_init)
    _plan_method(prepared, config.train)
    model = prepared.method.apply(model, prepared.task.head_names(model))
    trainable, total = count_parameters(model)
    lr = resolve_lr(config.train, prepared.method)
    info = _run_info(config, prepared, accelerator, trainable, total)
    info["lr"] = lr
    if accelerator.is_main_process:
        prepared.labels.save(run.labels)
        write_json_atomic(run.info, info)

    def save_best(trained: torch.nn.Module) -> None:
        if accelerator.is_main_process:
            atomic_write_dir(run.model, lambda folder: _save_model(prepared, trained, folder))

    pad_id = prepared.tokenizer.pad_token_id or 0
    result = fit(accelerator=accelerator, model=model, task=prepared.task, method=prepared.method,
                 labels=prepared.labels, train_features=prepared.features["train"],
                 validation=prepared.splits.get("validation"), validation_features=prepared.features.get("validation"),
                 train=config.train, lr=lr, pad_id=pad_id, run=run, save_best=save_best, resume=resume)
    accelerator.wait_for_everyone()
    metrics = _final_metrics(prepared, run, accelerator, config.train.eval_batch_size, pad_id)
    if accelerator.is_main_process:
        state = result.state
        info.update(status="finished", finished_at=_now(), best_step=state.best_step, best_metric=state.best_metric,
                    stopped_early=state.stopped_early, steps=state.global_step, total_steps=result.total_steps,
                    timing={"train_seconds": round(state.train_seconds, 2),
                            "samples_per_second": round(state.samples_seen / max(state.train_seconds, 1e-9), 2),
                            "wall_seconds_this_session": round(time.perf_counter() - started, 2)},
                    peak_memory_mb=round(result.peak_memory_mb, 1),
                    model_size_mb=round(sum(f.stat().st_size for f in run.model.rglob("*") if f.is_file()) / 2**20, 2))
        write_json_atomic(run.metrics, metrics)
        write_report(run.path, metrics, title=f"{config.task.name} · {config.method.name} · {Path(config.output).name}",
                     run_info=_report_info(info))
        write_json_atomic(run.info, info)
    return RunResult(run.path, metrics)


def _plan_method(prepared: Prepared, train: TrainConfig) -> None:
    """Tell a method that schedules itself (AdaLoRA) the run's optimizer steps, before ``apply``."""
    hook = getattr(prepared.method, "set_total_steps", None)
    if hook is not None:
        sampler = LengthGroupedBatchSampler([len(f["input_ids"]) for f in prepared.features["train"]],
                                            train.batch_size, train.seed, group_by_length=train.group_by_length)
        hook(planned_total_steps(len(sampler), train))


def _open_output(accelerator: Accelerator, config: RunConfig, *, resume: bool, overwrite: bool) -> RunDir:
    run = None
    if accelerator.is_main_process:
        run = prepare_run_dir(config.output, dump_config(config), resume=resume, overwrite=overwrite)
    accelerator.wait_for_everyone()
    return run or RunDir(Path(config.output))


def _check_labels_unchanged(run: RunDir, prepared: Prepared) -> None:
    if run.labels.is_file():
        saved = LabelMap.load(run.labels)
        if saved != prepared.labels:
            raise RunDirError(f"Cannot resume '{run.path}': the training data's labels changed "
                              f"(saved: {', '.join(saved.names)}; now: {', '.join(prepared.labels.names)}).",
                              hint="Resume with the same data, or use --overwrite.")


def _save_model(prepared: Prepared, model: torch.nn.Module, folder: Path) -> None:
    with quiet_transformers():
        prepared.method.save(model, folder)
        prepared.tokenizer.save_pretrained(folder)


def _final_metrics(prepared: Prepared, run: RunDir, accelerator: Accelerator, batch_size: int,
                   pad_id: int) -> dict[str, dict[str, Any]]:
    """Reload the best saved model (as a user would) and evaluate it on validation and test."""
    task, labels = prepared.task, prepared.labels
    best = prepared.method.load(run.model, lambda path: task.build_model(path, labels)).to(accelerator.device)
    dtype = autocast_dtype(accelerator.mixed_precision)
    metrics = {}
    for name in ("validation", "test"):
        if name in prepared.splits:
            metrics[name], _ = evaluate_split(best, task, prepared.splits[name], prepared.features[name], labels,
                                              batch_size=batch_size, pad_id=pad_id, device=accelerator.device,
                                              dtype=dtype)
    return metrics


def _run_info(config: RunConfig, prepared: Prepared, accelerator: Accelerator, trainable: int, total: int) -> dict:
    return {
        "status": "running",
        "started_at": _now(),
        "task": config.task.name,
        "method": config.method.name,
        "model": config.model.name,
        "model_path": prepared.model_path,
        "seed": config.train.seed,
        "device": str(accelerator.device),
        "precision": accelerator.mixed_precision,
        "num_processes": accelerator.num_processes,
        "labels": list(prepared.labels.names),
        "data": {name: {"source": split.source, "examples": len(split)} for name, split in prepared.splits.items()},
        "parameters": {"trainable": trainable, "total": total, "trainable_percent": round(100 * trainable / total, 4)},
        "versions": library_versions(),
    }


def _report_info(info: dict[str, Any]) -> dict[str, Any]:
    return {"method": info["method"], "model": info["model"], "device": info["device"], "precision": info["precision"],
            "learning rate": info["lr"],
            "trainable parameters": f"{info['parameters']['trainable']:,} ({info['parameters']['trainable_percent']}%)",
            "train seconds": info["timing"]["train_seconds"], "samples/s": info["timing"]["samples_per_second"],
            "best step": info["best_step"], "seed": info["seed"]}


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")
