"""One trial: the sampled values as overrides of the base config, trained on train, scored on validation.

The train and validation splits are read once, checked, and written to ``data/`` in the tune folder (as a
study does for its cells); every trial trains from those files with no test split, so no trial reads the
test set, even a built-in dataset's. A trial is an ordinary run directory in ``trials/NNNN`` without its
model (deleted once scored: the best trial is trained again as ``best/``).

With several seeds (``tune.seeds``) a trial trains once per seed, in ``trials/NNNN/seed-S``, and scores their
mean. The seeds are the pruner's instances: each evaluation reports the trial's running mean (the seeds done
and the current one) at the point (seed index, samples seen), so a trial that is poor on its first seed stops
there, and only promising values pay for the other seeds.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from finegrain.config import RunConfig, load_config, merge_sections
from finegrain.data.sources import load_splits
from finegrain.data.tables import ROW
from finegrain.tasks.base import Task
from finegrain.training.checkpoint import TrainerState
from finegrain.training.run_dir import RunDir
from finegrain.training.runner import run_training
from finegrain.training.setup import foreign_columns, task_columns
from finegrain.tune.space import Dimension, overrides_of
from finegrain.tune.storage import worker_name

__all__ = ["TrialData", "prepare_trial_data", "Objective", "trial_config", "PRUNED_AT", "SEED_SCORES", "INSTANCE_SPAN"]

PRUNED_AT = "pruned_at_samples"  # the user attribute of a pruned trial: training samples seen when it stopped
SEED_SCORES = "seed_scores"  # the user attribute of a trial with several seeds: {seed: validation score}
INSTANCE_SPAN = 10 ** 12  # a pruner step is seed index * span + samples seen: the same point in every trial


@dataclass(frozen=True)
class TrialData:
    """The checked train and validation splits (the data section's column names), and that section's other keys."""

    frames: dict[str, pd.DataFrame]
    section: dict[str, Any]

    def write(self, root: Path) -> dict[str, Any]:
        """Write the splits into ``root/data``; returns the data section every trial reads them with."""
        section = dict(self.section)
        for name, frame in self.frames.items():
            path = root / "data" / f"{name}.jsonl"
            _write_jsonl(frame, path)
            section[name] = str(path)
        return section


def prepare_trial_data(config: RunConfig, task: Task) -> TrialData:
    """Read and check train and validation (never test) once, for every trial."""
    data, columns = config.data, task_columns(task, config.data)
    splits = load_splits(data.train, data.validation, None, columns=columns, stratify=task.stratify,
                         validation_fraction=data.validation_fraction, max_train_examples=data.max_train_examples,
                         seed=config.train.seed, tag_column=data.tag_column, foreign=foreign_columns(task),
                         read_test=False)
    task.check_labels(task.check(splits["validation"]), task.label_map(task.check(splits["train"])))
    frames = {name: split.frame.drop(columns=[ROW], errors="ignore").rename(columns=columns)
              for name, split in splits.items()}
    section = {key: value for key, value in config.data.model_dump().items()
               if key not in ("train", "validation", "test", "tag_column", "max_train_examples")}
    return TrialData(frames, section)


def _write_jsonl(frame: pd.DataFrame, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    staging = path.with_suffix(".partial")
    frame.to_json(staging, orient="records", lines=True, force_ascii=False)
    staging.replace(path)


def trial_config(base: dict[str, Any], values: dict[str, Any], **sections: Any) -> RunConfig:
    """The base config with the trial's ``values`` (dotted keys) and whole ``sections`` (data, output) set."""
    return load_config({**merge_sections(base, overrides_of(values)), **sections})


class Objective:
    """What Optuna calls per trial: sample, train on the trial files (once per seed), return the validation score
    (the mean over the seeds).

    The loop's evaluation hook reports each score to the pruner, keyed by training samples seen (the same
    point for every batch size) and, with several seeds, by the seed's index; it stops a trial the pruner gives
    up on.
    """

    def __init__(self, base: dict[str, Any], space: dict[str, Dimension], data: dict[str, Any], root: Path,
                 metric: str, seeds: list[int] | None = None):
        """``data``: the data section of every trial (:meth:`TrialData.write`); ``seeds``: the training seeds of
        each trial (None: the config's own, one run)."""
        self.base, self.space, self.data, self.root, self.metric = base, space, data, root, metric
        self.seeds = list(seeds or [])

    def __call__(self, trial: Any) -> float:
        import optuna

        trial.set_user_attr("worker", worker_name())
        values = {key: dimension.suggest(trial) for key, dimension in self.space.items()}
        folder = self.root / "trials" / f"{trial.number:04d}"
        scores: list[float] = []
        pruned: list[int] = []
        for index, seed in enumerate(self.seeds or [None]):
            run = RunDir(folder if seed is None else folder / f"seed-{seed}")
            chosen = values if seed is None else {**values, "train.seed": seed}
            try:
                config = trial_config(self.base, chosen, data=self.data, output=str(run.path))
                result = run_training(config, overwrite=run.path.exists(),
                                      on_evaluate=self._reporter(trial, pruned, index, scores))
            except Exception as error:  # recorded for the report; Optuna marks the trial failed and goes on
                trial.set_user_attr("error", str(error).splitlines()[0][:300])
                raise
            finally:
                _drop_weights(run)
            scores.append(float(result.metrics["validation"][self.metric]))
            if seed is not None:
                trial.set_user_attr(SEED_SCORES, dict(zip(map(str, self.seeds), scores)))
            if pruned:
                trial.set_user_attr(PRUNED_AT, pruned[0])
                where = f" of seed {seed}" if seed is not None else ""
                raise optuna.TrialPruned(f"below the pruner's bar after {pruned[0]} training samples{where}")
        return sum(scores) / len(scores)

    @staticmethod
    def _reporter(trial: Any, pruned: list[int], index: int = 0, done: list[float] | None = None) -> Any:
        """The evaluation hook of seed number ``index`` (``done``: the earlier seeds' final scores)."""
        done = done or []

        def on_evaluate(state: TrainerState, score: float) -> bool:
            trial.report((sum(done) + score) / (len(done) + 1), step=index * INSTANCE_SPAN + state.samples_seen)
            if trial.should_prune():
                pruned.append(state.samples_seen)
                return True
            return False

        return on_evaluate


def _drop_weights(run: RunDir) -> None:
    """A trial keeps its config, log and metrics; its weights and checkpoints would fill the disk."""
    shutil.rmtree(run.model, ignore_errors=True)
    shutil.rmtree(run.path / "checkpoints", ignore_errors=True)
