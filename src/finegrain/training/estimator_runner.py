"""The short path for fitted methods (:class:`~finegrain.methods.base.FittedMethod`: tfidf, embeddings-lr,
setfit).

The runner prepares the data and the run directory as for any run and hands over here: fit the
estimator (SetFit's pair fine-tuning goes through the one loop), save it, reload it as a user would,
evaluate with the task's own metrics and write the same ``run.json``, ``metrics.json`` and report.
"""

from __future__ import annotations

import shutil
import time
from functools import partial
from pathlib import Path
from typing import Any

import torch
from accelerate import Accelerator

from finegrain.config import RunConfig, TrainConfig
from finegrain.errors import ConfigError
from finegrain.methods.base import FittedMethod
from finegrain.tasks.base import Feature
from finegrain.tasks.modeling import quiet_transformers
from finegrain.tasks.objective import Objective
from finegrain.training.checkpoint import atomic_write_dir
from finegrain.training.costs import Costs
from finegrain.training.estimator_source import estimator_context, estimator_logits
from finegrain.training.loop import FitInputs, fit
from finegrain.training.memory import PeakMemory
from finegrain.training.optim import resolve_lr
from finegrain.training.run_dir import RunDir
from finegrain.training.run_record import fine_tuned_model_card, report_title, run_info
from finegrain.training.run_recorder import RunRecorder
from finegrain.training.setup import Prepared, build_method

__all__ = ["run_estimator"]


def run_estimator(config: RunConfig, prepared: Prepared, method: FittedMethod,
                  recorder: RunRecorder) -> dict[str, dict[str, Any]]:
    """Fit, save, reload and evaluate a fitted method; write the run directory. Returns the metrics."""
    accelerator, run = recorder.accelerator, recorder.run
    if accelerator.num_processes > 1:
        raise ConfigError(f"Method '{config.method.name}' runs in one process (got {accelerator.num_processes}).",
                          hint="Start it with plain 'finegrain train', not torchrun/accelerate launch.")
    labels, train_split = prepared.labels, prepared.splits["train"]
    # only a method that fine-tunes through the loop has an lr (train.lr set for tfidf changes nothing)
    lr = resolve_lr(config.train, method, prepared.task.name) if method.default_lr is not None else None
    fine_tune = partial(_fine_tune, accelerator=accelerator, train=config.train, lr=lr, run=run)
    context = estimator_context(prepared.task, prepared.model_path, config.model.max_length, config.train,
                                accelerator.device, accelerator.mixed_precision, fine_tune=fine_tune,
                                held_out=_held_out_texts(prepared))
    labels.save(run.labels)
    run.log.unlink(missing_ok=True)  # a resumed estimator run fits again from the start: its old log goes too
    targets = prepared.task.fit_targets(train_split, labels, prepared.features.get("train"))
    memory = PeakMemory(accelerator.device)
    memory.reset()  # before the estimator's first matrix product: it caps the CPU kernel caches
    fit_started = time.perf_counter()
    with memory.watch():
        stats = method.fit(prepared.task.predict_inputs(train_split), targets, context)
    costs = Costs(time.perf_counter() - fit_started, len(train_split), memory.peak_mb(), memory.peak_rss_mb())
    with quiet_transformers():
        atomic_write_dir(run.model, method.save)
    info = run_info(config, prepared.model_path, labels, prepared.splits, accelerator, stats.trainable, stats.total,
                    base_model=prepared.base_reference)
    info["lr"] = lr
    recorder.write_info(info)
    best = build_method(config).load(run.model, context)  # evaluate what was saved, as a user loads it
    metrics = {}
    for name in ("validation", "test"):
        if name in prepared.splits:
            features, logits = estimator_logits(best, context, prepared.task, prepared.splits[name])
            metrics[name] = prepared.task.evaluate(prepared.splits[name], features, logits, labels)
    recorder.finish(info, metrics, costs, card=lambda: fine_tuned_model_card(config, info, metrics, run.model),
                    report=(prepared.task.report, report_title(config)))
    return metrics


def _held_out_texts(prepared: Prepared) -> tuple[str, ...]:
    """Every text in the validation and test splits (each column of strings: texts, pairs, sources, targets)."""
    texts: list[str] = []
    for name in ("validation", "test"):
        if name in prepared.splits:
            frame = prepared.splits[name].frame
            for column in frame.columns:
                texts.extend(value for value in frame[column].tolist() if isinstance(value, str))
    return tuple(texts)


def _fine_tune(module: torch.nn.Module, objective: Objective, features: list[Feature], pad_id: int, epochs: float,
               *, accelerator: Accelerator, train: TrainConfig, lr: float, run: RunDir) -> int:
    """Train ``module`` on ``features`` with the one loop; nothing to validate on, so the last model is kept."""
    settings = train.model_copy(update={"epochs": epochs, "eval_every": None, "patience": None})
    result = fit(accelerator, run, FitInputs(module, objective, features, settings, lr, pad_id))
    # The loop's resume checkpoint is dropped: an estimator run starts again on --resume.
    shutil.rmtree(Path(run.checkpoint).parent, ignore_errors=True)
    return result.state.samples_seen
