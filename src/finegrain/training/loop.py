"""THE training loop: one readable loop on accelerate for every task and method.

Read top to bottom: batches (length-grouped, deterministic per epoch) -> forward under
accelerate's autocast -> task loss -> backward with gradient accumulation and clipping ->
AdamW + warmup/linear decay -> evaluation every epoch (or N steps) -> best model kept,
early stopping, atomic checkpoint. Variation lives in the task and the method, not here.
"""

from __future__ import annotations

import json
import math
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

import torch
from accelerate import Accelerator
from torch.utils.data import DataLoader

from finegrain.config import TrainConfig
from finegrain.data.labels import LabelMap
from finegrain.data.split import Split
from finegrain.training.batching import LengthGroupedBatchSampler
from finegrain.training.checkpoint import STATE_FILE, TrainerState, latest_checkpoint, read_state, state_dict, swap_in
from finegrain.training.distributed import evaluation_model, evaluation_shard, sharded_logits, weights_sharded
from finegrain.training.inference import Shard
from finegrain.training.memory import PeakMemory
from finegrain.training.optim import build_optimizer, build_schedule, clip_gradients
from finegrain.training.precision import autocast_dtype
from finegrain.training.progress import training_progress
from finegrain.training.run_dir import RunDir
from finegrain.training.speedups import apply_speedups

__all__ = ["fit", "FitResult", "evaluate_split", "planned_total_steps"]


@dataclass
class FitResult:
    state: TrainerState
    total_steps: int
    trainable_parameters: int
    peak_memory_mb: float
    peak_rss_mb: float | None = None


def evaluate_split(model: torch.nn.Module, task: Any, split: Split, features: list[dict[str, Any]],
                   labels: LabelMap, *, batch_size: int, pad_id: int, device: torch.device,
                   dtype: torch.dtype | None, shard: Shard = Shard()) -> tuple[dict[str, Any], list]:
    """Metrics of ``split`` and the per-feature logits (input order).

    With a ``shard`` of several processes, each runs its share and every one gets all the logits
    and the same metrics (all must call this). An objective with ``evaluate_model`` (masked-LM)
    scores the model itself, in every process: it has no per-example logits to return, and a
    vocabulary's worth per token would not fit in memory.
    """
    evaluate_model = getattr(task, "evaluate_model", None)
    if evaluate_model is not None:
        return evaluate_model(model, features, batch_size=batch_size, pad_id=pad_id, device=device, dtype=dtype), []
    logits = sharded_logits(model, features, partial(task.collate, pad_id=pad_id),
                            batch_size=batch_size, device=device, dtype=dtype, shard=shard)
    return task.evaluate(split, features, logits, labels), logits


def planned_total_steps(batches_per_epoch: int, train: TrainConfig) -> int:
    """Optimizer steps of the whole run: ``train.max_steps``, or epochs x steps per epoch (at least
    ``train.min_steps``).

    The runner needs this before ``method.apply`` (AdaLoRA's rank schedule is built from it).
    """
    steps_per_epoch = math.ceil(batches_per_epoch / train.grad_accum)
    return train.max_steps or max(1, train.min_steps or 1, math.ceil(train.epochs * steps_per_epoch))


@dataclass
class _Session:
    """What the loop's steps share: the prepared objects, the run's settings and its state."""

    accelerator: Accelerator
    model: torch.nn.Module
    optimizer: Any
    schedule: Any
    loader: DataLoader
    sampler: LengthGroupedBatchSampler
    trainable: list[torch.nn.Parameter]
    task: Any
    method: Any
    train: TrainConfig
    run: RunDir
    state: TrainerState
    total_steps: int
    meter: _SpeedMeter
    memory: PeakMemory


def fit(*, accelerator: Accelerator, model: torch.nn.Module, task: Any, method: Any, labels: LabelMap,
        train_features: list[dict[str, Any]], validation: Split | None, validation_features: list | None,
        train: TrainConfig, lr: float, pad_id: int, run: RunDir, save_best: Callable[[torch.nn.Module], None],
        resume: bool) -> FitResult:
    """Train ``model`` and keep its best version (by the task's primary metric) through ``save_best``.

    Every process evaluates its share of ``validation`` and gets the same scores; every process calls
    ``save_best`` with the model as accelerate prepared it (to gather sharded weights before saving:
    :func:`finegrain.training.distributed.save_gathered`).

    ``lr`` is the resolved learning rate (``train.lr``, or the method's default when that is None).
    """
    checkpoint = latest_checkpoint(run.checkpoint) if resume else None
    resumed = read_state(checkpoint) if checkpoint is not None else None
    if resume and accelerator.is_main_process:
        _truncate_log(run, resumed.global_step if resumed is not None else 0)
    # CPU speed-ups (training/speedups/): the model gets its own modules back however training ends
    with apply_speedups(model, train.cpu_speedups, accelerator=accelerator,
                        features=[train_features, validation_features], resumed=resumed) as speedups:
        session = _prepare(accelerator, model, task, method, train_features, train, lr, pad_id, run)
        if checkpoint is not None:
            accelerator.load_state(str(checkpoint))
            session.state = resumed
        state = session.state
        speedups.record(state)
        _train(session, validation, validation_features, labels, pad_id, speedups.saving(save_best))
    trainable = sum(p.numel() for p in session.trainable)
    return FitResult(state, session.total_steps, trainable, session.memory.peak_mb(), session.memory.peak_rss_mb())


def _train(session: _Session, validation: Split | None, validation_features: list | None, labels: LabelMap,
           pad_id: int, save_best: Callable[[torch.nn.Module], None]) -> None:
    """Steps until the planned total (or early stopping), evaluating every epoch or ``eval_every`` steps."""
    state, train, accelerator = session.state, session.train, session.accelerator

    def evaluate() -> None:
        session.meter.pause(state)
        _evaluate_and_keep_best(session, validation, validation_features, labels, pad_id, save_best)
        session.meter.resume()

    session.model.train()
    with training_progress(accelerator.is_main_process) as progress:
        bar = progress.add_task("train", total=session.total_steps, completed=state.global_step, loss="-", speed="-")
        while state.global_step < session.total_steps and not state.stopped_early:
            session.sampler.epoch = state.epoch
            batches = accelerator.skip_first_batches(session.loader, state.batches_done) if state.batches_done \
                else session.loader
            session.meter.resume()
            for batch in batches:
                if _train_step(session, batch) and _after_step(session, progress, bar, evaluate):
                    break
            else:  # the epoch ran to its end
                state.epoch, state.batches_done = state.epoch + 1, 0
                if not train.eval_every:
                    evaluate()
            session.meter.pause(state)
        if state.last_eval_step != state.global_step:
            evaluate()


def _prepare(accelerator: Accelerator, model: torch.nn.Module, task: Any, method: Any,
             train_features: list[dict[str, Any]], train: TrainConfig, lr: float, pad_id: int, run: RunDir) -> _Session:
    """Batches, optimizer and schedule, handed to accelerate, with a fresh state."""
    memory = PeakMemory(accelerator.device)
    memory.reset()
    sampler = LengthGroupedBatchSampler([len(f["input_ids"]) for f in train_features], train.batch_size,
                                        train.seed, group_by_length=train.group_by_length)
    loader = DataLoader(train_features, batch_sampler=sampler, collate_fn=partial(task.collate, pad_id=pad_id),
                        generator=torch.Generator().manual_seed(train.seed))  # keeps the global RNG untouched
    total_steps = planned_total_steps(len(sampler), train)
    optimizer = build_optimizer(model, lr, train.weight_decay)
    schedule = build_schedule(optimizer, train.warmup, total_steps)
    model, optimizer, loader, schedule = accelerator.prepare(model, optimizer, loader, schedule)
    state = TrainerState()
    trainable = [p for p in model.parameters() if p.requires_grad]
    return _Session(accelerator, model, optimizer, schedule, loader, sampler, trainable, task, method, train, run,
                    state, total_steps, _SpeedMeter(), memory)


def _train_step(session: _Session, batch: dict[str, torch.Tensor]) -> bool:
    """Forward, loss, backward on one batch; an optimizer step when accumulation is complete.

    Returns True when an optimizer step was taken.
    """
    accelerator, state = session.accelerator, session.state
    with accelerator.accumulate(session.model):
        logits = _forward(session.task, session.model, batch)
        loss = session.task.loss(logits, batch)
        session.memory.sample()  # the activations are all held here
        accelerator.backward(loss)
        session.memory.sample()  # the gradients
        if accelerator.sync_gradients and session.train.max_grad_norm:
            clip_gradients(accelerator, session.trainable, session.train.max_grad_norm)
        session.optimizer.step()
        session.memory.sample()  # the gradients and the optimizer's state
        session.schedule.step()
        if accelerator.sync_gradients:  # AdaLoRA re-allocates ranks from live gradients
            _call_hook(session.method, "on_step", accelerator.unwrap_model(session.model), state.global_step + 1)
        session.optimizer.zero_grad(set_to_none=True)
    state.batches_done += 1
    samples = len(batch["input_ids"]) * accelerator.num_processes
    state.samples_seen += samples
    session.meter.add(samples, loss.detach().float().item())
    if accelerator.sync_gradients:
        state.global_step += 1
    return accelerator.sync_gradients


def _forward(task: Any, model: torch.nn.Module, batch: dict[str, torch.Tensor]) -> torch.Tensor:
    """The logits ``task.loss`` takes: the task's own ``forward`` when it has one (masked-LM feeds
    the labels in, to project only the masked positions onto the vocabulary)."""
    forward = getattr(task, "forward", None)
    if forward is not None:
        return forward(model, batch)
    return model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits


def _after_step(session: _Session, progress: Any, bar: Any, evaluate: Callable[[], None]) -> bool:
    """Log, evaluate or checkpoint when due; True when training should stop now."""
    state, train = session.state, session.train
    if state.global_step % train.log_every == 0:
        record = session.meter.flush(state, session.accelerator)
        _log(session.accelerator, session.run, {**record, "lr": session.schedule.get_last_lr()[0]})
        progress.update(bar, loss=f"{record['loss']:.4f}", speed=f"{record['samples_per_second']:.1f}")
    progress.update(bar, completed=state.global_step)
    if train.eval_every and state.global_step % train.eval_every == 0:
        evaluate()
    elif train.checkpoint_every and state.global_step % train.checkpoint_every == 0:
        session.meter.pause(state)
        _checkpoint(session.accelerator, session.run, state)
        session.meter.resume()
    return state.global_step >= session.total_steps or state.stopped_early


def _evaluate_and_keep_best(session: _Session, validation: Split | None, features: list | None, labels: LabelMap,
                            pad_id: int, save_best: Callable[[torch.nn.Module], None]) -> None:
    """Evaluate, keep the best model, update early stopping, checkpoint."""
    accelerator, state, task = session.accelerator, session.state, session.task
    state.last_eval_step = state.global_step
    if validation is None:  # nothing to select on: the latest model is the one kept
        save_best(session.model)
        _checkpoint(accelerator, session.run, state)
        return
    metrics, _ = evaluate_split(evaluation_model(accelerator, session.model), task, validation, features, labels,
                                batch_size=session.train.eval_batch_size, pad_id=pad_id, device=accelerator.device,
                                dtype=autocast_dtype(accelerator.mixed_precision),
                                shard=evaluation_shard(accelerator, lockstep=weights_sharded(accelerator)))
    score = float(metrics[task.primary_metric])
    record = {"step": state.global_step, "epoch": state.epoch, task.primary_metric: score,
              "accuracy": metrics.get("accuracy"),
              **{key: metrics[key] for key in ("loss", "perplexity") if key in metrics}}  # masked-LM
    state.history.append(record)
    _log(accelerator, session.run, {"eval": record})
    if state.best_metric is None or (score > state.best_metric if task.greater_is_better else score < state.best_metric):
        state.best_metric, state.best_step, state.evals_without_gain = score, state.global_step, 0
        save_best(session.model)
    else:
        state.evals_without_gain += 1
    state.stopped_early = bool(session.train.patience and state.evals_without_gain >= session.train.patience)
    _checkpoint(accelerator, session.run, state)


class _SpeedMeter:
    """Training time and samples/s, excluding evaluation and checkpoint time."""

    def __init__(self):
        self.started = time.perf_counter()
        self.samples = 0
        self.losses: list[float] = []
        self.window_seconds = 0.0

    def resume(self) -> None:
        self.started = time.perf_counter()

    def pause(self, state: TrainerState) -> None:
        elapsed = time.perf_counter() - self.started
        state.train_seconds += elapsed
        self.window_seconds += elapsed
        self.started = time.perf_counter()

    def add(self, samples: int, loss: float) -> None:
        self.samples += samples
        self.losses.append(loss)

    def flush(self, state: TrainerState, accelerator: Accelerator) -> dict[str, Any]:
        """The window's loss, averaged over processes (each saw only its share of the batches)."""
        self.pause(state)
        local = torch.tensor(sum(self.losses) / max(len(self.losses), 1), device=accelerator.device)
        loss = accelerator.reduce(local, reduction="mean").item()
        record = {"step": state.global_step, "epoch": state.epoch, "loss": round(loss, 5),
                  "samples_per_second": round(self.samples / max(self.window_seconds, 1e-9), 2)}
        self.samples, self.losses, self.window_seconds = 0, [], 0.0
        return record


def _call_hook(method: Any, name: str, *args) -> None:
    hook = getattr(method, name, None)
    if hook is not None:
        hook(*args)


def _checkpoint(accelerator: Accelerator, run: RunDir, state: TrainerState) -> None:
    """Save accelerate's state and ours into checkpoints/last, atomically."""
    staging = run.checkpoint.with_name(".last.staging")
    if accelerator.is_main_process:
        shutil.rmtree(staging, ignore_errors=True)
    accelerator.wait_for_everyone()
    accelerator.save_state(str(staging), safe_serialization=True)
    accelerator.wait_for_everyone()
    if accelerator.is_main_process:
        (staging / STATE_FILE).write_text(json.dumps(state_dict(state), indent=2), encoding="utf-8")
        swap_in(staging, run.checkpoint)
    accelerator.wait_for_everyone()


def _truncate_log(run: RunDir, step: int) -> None:
    """Keep the log records up to ``step``, the checkpoint's: a killed session logged steps after it,
    which the resumed run takes (and logs) again."""
    if not run.log.is_file():
        return
    kept = []
    for line in run.log.read_text(encoding="utf-8").splitlines():
        try:
            record = json.loads(line)
        except json.JSONDecodeError:  # a line the kill cut short
            continue
        if record.get("eval", record)["step"] <= step:
            kept.append(line + "\n")
    tmp = run.log.with_name(f".{run.log.name}.tmp")
    tmp.write_text("".join(kept), encoding="utf-8")
    tmp.replace(run.log)


def _log(accelerator: Accelerator, run: RunDir, record: dict[str, Any]) -> None:
    if accelerator.is_main_process:
        with run.log.open("a", encoding="utf-8") as handle:
            handle.write(json.dumps(record) + "\n")
