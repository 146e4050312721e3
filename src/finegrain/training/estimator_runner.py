"""The short path for estimator methods (``kind = "estimator"``: tfidf, embeddings-lr, setfit).

The runner prepares the data and the run directory as for any run and hands over here: fit the
estimator (SetFit's pair fine-tuning goes through the one loop), save it, reload it as a user would,
evaluate with the task's own metrics and write the same ``run.json``, ``metrics.json`` and report.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import torch
from accelerate import Accelerator
from transformers import AutoModel

from finegrain.config import RunConfig, TrainConfig
from finegrain.data.labels import LabelMap
from finegrain.data.split import Split
from finegrain.errors import ConfigError, ModelError
from finegrain.methods.estimators.base import EstimatorContext
from finegrain.tasks.modeling import quiet_transformers
from finegrain.training.checkpoint import atomic_write_dir, write_json_atomic
from finegrain.training.inference import predict_logits
from finegrain.training.loop import fit
from finegrain.training.memory import PeakMemory
from finegrain.training.optim import resolve_lr
from finegrain.training.precision import autocast_dtype, resolve_precision
from finegrain.training.run_dir import RunDir
from finegrain.training.run_record import finish_run, run_info
from finegrain.training.setup import Prepared, build_method, load_tokenizer

__all__ = ["is_estimator", "run_estimator", "estimator_context", "estimator_logits", "estimator_backend"]


def is_estimator(method: Any) -> bool:
    return getattr(method, "kind", "neural") == "estimator"


def run_estimator(config: RunConfig, prepared: Prepared, accelerator: Accelerator, run: RunDir,
                  started: float) -> dict[str, dict[str, Any]]:
    """Fit, save, reload and evaluate an estimator method; write the run directory. Returns the metrics."""
    if accelerator.num_processes > 1:
        raise ConfigError(f"Method '{config.method.name}' runs in one process (got {accelerator.num_processes}).",
                          hint="Start it with plain 'finegrain train', not torchrun/accelerate launch.")
    method, labels, train_split = prepared.method, prepared.labels, prepared.splits["train"]
    lr = resolve_lr(config.train, method, prepared.task.name) if hasattr(method, "default_lr") else None
    fine_tune = partial(_fine_tune, accelerator=accelerator, train=config.train, lr=lr, run=run, labels=labels)
    context = estimator_context(prepared.task, prepared.model_path, config.model.max_length, config.train,
                                accelerator.device, accelerator.mixed_precision, fine_tune=fine_tune)
    labels.save(run.labels)
    run.log.unlink(missing_ok=True)  # a resumed estimator run fits again from the start: its old log goes too
    targets = np.array([feature["labels"] for feature in prepared.features["train"]])
    memory = PeakMemory(accelerator.device)
    memory.reset()  # before the estimator's first matrix product: it caps the CPU kernel caches
    fit_started = time.perf_counter()
    with memory.watch():
        stats = method.fit(train_split.frame["text"].tolist(), targets, context)
    train_seconds = time.perf_counter() - fit_started
    with quiet_transformers():
        atomic_write_dir(run.model, method.save)
    info = run_info(config, prepared.model_path, labels, prepared.splits, accelerator, stats.trainable, stats.total,
                    base_model=None if method.encoder == "none" else prepared.base_reference)
    info["lr"] = lr
    write_json_atomic(run.info, info)
    best = build_method(config).load(run.model, context)  # evaluate what was saved, as a user loads it
    metrics = {}
    for name in ("validation", "test"):
        if name in prepared.splits:
            features, logits = estimator_logits(best, context, prepared.splits[name])
            metrics[name] = prepared.task.evaluate(prepared.splits[name], features, logits, labels)
    finish_run(run, config, info, metrics, train_seconds=train_seconds, samples=len(train_split),
               peak_memory_mb=memory.peak_mb(), peak_rss_mb=memory.peak_rss_mb(), started=started)
    return metrics


def estimator_context(task: Any, model_path: str | None, max_length: int, train: TrainConfig, device: torch.device,
                      mixed_precision: str, *, fine_tune: Any = None) -> EstimatorContext:
    """What an estimator uses from this layer: tokenizer and encoder loading, batched embedding under the
    run's precision (``train.eval_batch_size`` per batch), and (when training) the one loop."""
    embed = partial(_embed, collate=task.collate, batch_size=train.eval_batch_size, device=device,
                    dtype=autocast_dtype(mixed_precision))
    return EstimatorContext(model_path=model_path, seed=train.seed,
                            load_tokenizer=partial(load_tokenizer, max_length=max_length), load_encoder=_load_encoder,
                            collate=task.collate, embed=embed, fine_tune=fine_tune)


def estimator_logits(estimator: Any, context: EstimatorContext, split: Split) -> tuple[list[dict[str, Any]], list]:
    """Per-example features (``{"example": i}``) and log-probabilities (the logits), in input order."""
    log_probs = estimator.log_probs(split.frame["text"].tolist(), context)
    return [{"example": i} for i in range(len(split))], list(log_probs)


def estimator_backend(directory: Path, config: RunConfig, task: Any, method: Any, device: torch.device,
                      model_path: str | None) -> Callable[[Split, int], tuple[list[dict[str, Any]], list]]:
    """A Predictor backend: the saved estimator in ``directory``, loaded once, as ``(split, batch_size) ->
    (features, logits)``. ``model_path`` is the base encoder, for a method whose ``encoder`` is "base" (else None)."""
    precision = resolve_precision(config.train.precision, device.type)

    def context(batch_size: int) -> EstimatorContext:
        train = config.train.model_copy(update={"eval_batch_size": batch_size})
        return estimator_context(task, model_path, config.model.max_length, train, device, precision)

    estimator = method.load(directory, context(config.train.eval_batch_size))
    return lambda split, batch_size: estimator_logits(estimator, context(batch_size), split)


def _load_encoder(path: str) -> torch.nn.Module:
    try:
        with quiet_transformers():
            return AutoModel.from_pretrained(path, trust_remote_code=False)
    except (OSError, ValueError, KeyError) as error:
        raise ModelError(f"Could not load an encoder from '{path}': {str(error).splitlines()[0]}",
                         hint="Use a BERT-like encoder folder (config.json + weights), e.g. model.name=default.") from None


def _embed(module: torch.nn.Module, features: list[dict[str, Any]], pad_id: int, *, collate: Any, batch_size: int,
           device: torch.device, dtype: torch.dtype | None) -> np.ndarray:
    rows = predict_logits(module.to(device), features, partial(collate, pad_id=pad_id), batch_size=batch_size,
                          device=device, dtype=dtype)
    return np.stack(rows)


def _fine_tune(module: torch.nn.Module, objective: Any, features: list[dict[str, Any]], pad_id: int, epochs: float,
               *, accelerator: Accelerator, train: TrainConfig, lr: float, run: RunDir, labels: LabelMap) -> int:
    """Train ``module`` on ``features`` with the one loop; nothing to validate on, so the last model is kept."""
    settings = train.model_copy(update={"epochs": epochs, "eval_every": None, "patience": None})
    result = fit(accelerator=accelerator, model=module, task=objective, method=None, labels=labels,
                 train_features=features, validation=None, validation_features=None, train=settings, lr=lr,
                 pad_id=pad_id, run=run, save_best=lambda model: None, resume=False)
    # The loop's resume checkpoint is dropped: an estimator run starts again on --resume.
    shutil.rmtree(Path(run.checkpoint).parent, ignore_errors=True)
    return result.state.samples_seen
