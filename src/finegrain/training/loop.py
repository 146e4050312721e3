"""THE training loop: one readable loop on accelerate for every task and method.

Read top to bottom: batches (length-grouped, deterministic per epoch) -> forward under
accelerate's autocast -> task loss -> backward with gradient accumulation and clipping ->
AdamW + warmup/linear decay -> evaluation every epoch (or N steps) -> best model kept,
early stopping, atomic checkpoint. Variation lives in the task and the method, not here: the
loop sees an :class:`~finegrain.tasks.objective.Objective` (collate, forward, loss), a
:class:`~finegrain.training.validation.Validation` to keep the best model by, and the method's
``on_step`` hook, all handed in as one :class:`FitInputs`.
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
from finegrain.tasks.base import Feature
from finegrain.tasks.objective import Objective
from finegrain.training.adversarial import BatchStep, batch_step
from finegrain.training.batching import LengthGroupedBatchSampler
from finegrain.training.checkpoint import STATE_FILE, TrainerState, latest_checkpoint, read_state, state_dict, swap_in
from finegrain.training.costs import Costs
from finegrain.training.distributed import evaluation_model, evaluation_shard, weights_sharded
from finegrain.training.memory import PeakMemory
from finegrain.training.optim import build_optimizer, build_schedule, clip_gradients
from finegrain.training.precision import autocast_dtype
from finegrain.training.progress import training_progress
from finegrain.training.run_dir import RunDir
from finegrain.training.speedups import apply_speedups
from finegrain.training.tracking import log_to_trackers
from finegrain.training.validation import Validation

__all__ = ["fit", "FitInputs", "FitResult", "planned_total_steps"]

SaveBest = Callable[[torch.nn.Module], None]


@dataclass
class FitInputs:
    """What :func:`fit` trains and how: the model, its objective and data, the settings, and what it is told.

    ``lr`` is the resolved learning rate (``train.lr``, or the method's default when that is None).
    ``validation`` None: nothing to select on, the last model is kept. ``save_best`` receives the best
    model so far (every process, with the model as accelerate prepared it: to gather sharded weights
    before saving, :func:`finegrain.training.distributed.save_gathered`); None keeps it in memory only.
    ``on_step`` is the method's hook, called after each optimizer step (AdaLoRA's rank allocation).
    ``on_evaluate(state, score)`` is told each validation score (the primary metric); True stops training
    there, as early stopping does: ``finegrain tune`` prunes an unpromising trial through it.
    """

    model: torch.nn.Module
    objective: Objective
    train_features: list[Feature]
    train: TrainConfig
    lr: float
    pad_id: int
    validation: Validation | None = None
    save_best: SaveBest | None = None
    on_step: Callable[[torch.nn.Module, int], None] | None = None
    on_evaluate: Callable[[TrainerState, float], bool] | None = None


@dataclass
class FitResult:
    state: TrainerState
    total_steps: int
    trainable_parameters: int
    peak_memory_mb: float
    peak_rss_mb: float | None = None
    adversarial: dict[str, Any] | None = None  # the defence's cost (training/adversarial/); None: plain

    @property
    def costs(self) -> Costs:
        return Costs(self.state.train_seconds, self.state.samples_seen, self.peak_memory_mb, self.peak_rss_mb,
                     adversarial=self.adversarial)


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
    inputs: FitInputs
    train: TrainConfig
    run: RunDir
    state: TrainerState
    total_steps: int
    meter: _SpeedMeter
    memory: PeakMemory
    step: BatchStep  # a batch's forward and backward passes: plain, or with train.adversarial's defence


def fit(accelerator: Accelerator, run: RunDir, inputs: FitInputs, *, resume: bool = False) -> FitResult:
    """Train ``inputs.model`` and keep its best version (by the validation's primary metric) through
    ``inputs.save_best``; with ``resume``, continue from the run's last checkpoint.

    Every process evaluates its share of the validation data and gets the same scores.
    """
    train, model = inputs.train, inputs.model
    checkpoint = latest_checkpoint(run.checkpoint) if resume else None
    resumed = read_state(checkpoint) if checkpoint is not None else None
    if resume and accelerator.is_main_process:
        _truncate_log(run, resumed.global_step if resumed is not None else 0)
    # CPU speed-ups (training/speedups/): the model gets its own modules back however training ends
    held_out = inputs.validation.features if inputs.validation is not None else None
    with apply_speedups(model, train.cpu_speedups, accelerator=accelerator,
                        features=[inputs.train_features, held_out], resumed=resumed) as speedups:
        session = _prepare(accelerator, inputs, run)
        if checkpoint is not None:
            accelerator.load_state(str(checkpoint))
            session.state = resumed
        state = session.state
        speedups.record(state)
        seconds_before = state.train_seconds  # a resumed run's earlier sessions: the defence timed only this one
        _train(session, None if inputs.save_best is None else speedups.saving(inputs.save_best))
    trainable = sum(p.numel() for p in session.trainable)
    return FitResult(state, session.total_steps, trainable, session.memory.peak_mb(), session.memory.peak_rss_mb(),
                     adversarial=session.step.cost(state.train_seconds - seconds_before))


def _train(session: _Session, save_best: SaveBest | None) -> None:
    """Steps until the planned total (or early stopping), evaluating every epoch or ``eval_every`` steps."""
    state, train, accelerator = session.state, session.train, session.accelerator

    def evaluate() -> None:
        session.meter.pause(state)
        _evaluate_and_keep_best(session, save_best)
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


def _prepare(accelerator: Accelerator, inputs: FitInputs, run: RunDir) -> _Session:
    """Batches, optimizer and schedule, handed to accelerate, with a fresh state."""
    train, train_features = inputs.train, inputs.train_features
    memory = PeakMemory(accelerator.device)
    memory.reset()
    sampler = LengthGroupedBatchSampler([len(f["input_ids"]) for f in train_features], train.batch_size,
                                        train.seed, group_by_length=train.group_by_length)
    loader = DataLoader(train_features, batch_sampler=sampler,
                        collate_fn=partial(inputs.objective.collate, pad_id=inputs.pad_id),
                        generator=torch.Generator().manual_seed(train.seed))  # keeps the global RNG untouched
    total_steps = planned_total_steps(len(sampler), train)
    optimizer = build_optimizer(inputs.model, inputs.lr, train.weight_decay)
    schedule = build_schedule(optimizer, train.warmup, total_steps)
    model, optimizer, loader, schedule = accelerator.prepare(inputs.model, optimizer, loader, schedule)
    state = TrainerState()
    trainable = [p for p in model.parameters() if p.requires_grad]
    return _Session(accelerator, model, optimizer, schedule, loader, sampler, trainable, inputs, train, run,
                    state, total_steps, _SpeedMeter(), memory,
                    batch_step(train.adversarial, accelerator, inputs.objective, memory))


def _train_step(session: _Session, batch: dict[str, torch.Tensor]) -> bool:
    """Forward, loss, backward on one batch; an optimizer step when accumulation is complete.

    Returns True when an optimizer step was taken.
    """
    accelerator, state, on_step = session.accelerator, session.state, session.inputs.on_step
    with accelerator.accumulate(session.model):
        loss = session.step(session.model, batch)  # forward and backward (the defence's passes: training/adversarial/)
        if accelerator.sync_gradients and session.train.max_grad_norm:
            clip_gradients(accelerator, session.trainable, session.train.max_grad_norm)
        session.optimizer.step()
        session.memory.sample()  # the gradients and the optimizer's state
        session.schedule.step()
        if accelerator.sync_gradients and on_step is not None:  # AdaLoRA re-allocates ranks from live gradients
            on_step(accelerator.unwrap_model(session.model), state.global_step + 1)
        session.optimizer.zero_grad(set_to_none=True)
    state.batches_done += 1
    samples = len(batch["input_ids"]) * accelerator.num_processes
    state.samples_seen += samples
    session.meter.add(samples, loss.detach().float().item())
    if accelerator.sync_gradients:
        state.global_step += 1
    return accelerator.sync_gradients


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


def _evaluate_and_keep_best(session: _Session, save_best: SaveBest | None) -> None:
    """Evaluate, keep the best model, update early stopping, checkpoint."""
    state, validation = session.state, session.inputs.validation
    state.last_eval_step = state.global_step
    best = validation is None or _score(session, validation)  # nothing to select on: the latest model is kept
    if best and save_best is not None:
        save_best(session.model)
    _checkpoint(session.accelerator, session.run, state)


def _score(session: _Session, validation: Validation) -> bool:
    """Evaluate and log; update the best score and early stopping. True when this model is the best so far."""
    accelerator, state = session.accelerator, session.state
    metrics = validation.evaluate(evaluation_model(accelerator, session.model),
                                  batch_size=session.train.eval_batch_size, pad_id=session.inputs.pad_id,
                                  device=accelerator.device, dtype=autocast_dtype(accelerator.mixed_precision),
                                  shard=evaluation_shard(accelerator, lockstep=weights_sharded(accelerator)))
    primary = validation.primary_metric
    score = float(metrics[primary])
    record = {"step": state.global_step, "epoch": state.epoch, primary: score,
              **{key: metrics.get(key) for key in validation.logged_metrics}}
    state.history.append(record)
    _log(accelerator, session.run, {"eval": record})
    if validation.greater_is_better:
        best = state.best_metric is None or score > state.best_metric
    else:
        best = state.best_metric is None or score < state.best_metric
    if best:
        state.best_metric, state.best_step, state.evals_without_gain = score, state.global_step, 0
    else:
        state.evals_without_gain += 1
    state.stopped_early = bool(session.train.patience and state.evals_without_gain >= session.train.patience)
    if session.inputs.on_evaluate is not None and session.inputs.on_evaluate(state, score):
        state.stopped_early = True
    return best


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
    log_to_trackers(accelerator, record)  # train.report_to; a no-op without trackers
