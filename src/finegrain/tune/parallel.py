"""Trials in parallel: ``tune.executor: ray`` with ``tune.workers: W`` runs W worker processes through the
study executor (:mod:`finegrain.executors`), each asking the shared journal (or database) for the next trial
until the tune has its ``trials``; the driver then trains the best one, as a one-process tune does.

Each worker gets its own sampler seed (the tune's seed, the trials done and its index), so two workers do not
draw the same values. Optuna's journal file is safe across processes on one file system; across machines, give
``--storage`` a database URL.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from finegrain.errors import ConfigError, ModelError
from finegrain.executors import Job, make_executor

__all__ = ["check_parallel", "run_parallel_trials", "optimize_share"]


def check_parallel(settings: Any) -> None:
    """Parallel trials need the ray executor and a storage other processes can read."""
    if settings.workers > 1 and settings.executor.name != "ray":
        raise ConfigError(f"tune.workers: {settings.workers} trials at once need the ray executor.",
                          where="tune.workers",
                          hint="add --executor ray (pip install 'finegrain[ray]'), or --workers 1.")
    if settings.executor.name == "ray" and settings.storage == "memory":
        raise ConfigError("trials in other processes cannot share an in-memory study.", where="tune.storage",
                          hint="use the journal (the default) or a database URL.")


def optimize_share(root: str, storage: str, name: str, objective: Any, settings: Any, seed: int,
                   timeout: float | None, share: int) -> int:
    """In a worker: run ``share`` trials of the study (fewer if it reaches ``settings.trials`` finished first, as
    when another tune process works on the same journal); the trials it ran."""
    import optuna

    from finegrain.tune.runner import make_pruner, make_sampler
    from finegrain.tune.storage import storage_backend

    optuna.logging.set_verbosity(optuna.logging.ERROR)
    study = optuna.load_study(study_name=name, storage=storage_backend(Path(root), storage),
                              sampler=make_sampler(settings, seed), pruner=make_pruner(settings))
    finished = (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED, optuna.trial.TrialState.FAIL)
    before = len(study.get_trials(deepcopy=False))
    study.optimize(objective, n_trials=share, timeout=timeout, catch=(Exception,),
                   callbacks=[optuna.study.MaxTrialsCallback(settings.trials, states=finished)])
    return len(study.get_trials(deepcopy=False)) - before


def run_parallel_trials(root: Path, study: Any, objective: Any, settings: Any, timeout: float | None,
                        remaining: int) -> None:
    """The ``remaining`` trials dealt to ``settings.workers`` workers on the executor (a fixed share each: a
    worker that stopped only once the journal counted enough trials would overshoot by the trials still
    running); a ModelError when every worker failed."""
    done, workers = len(study.trials), min(settings.workers, remaining)
    shares = [remaining // workers + (index < remaining % workers) for index in range(workers)]
    jobs = [Job(key=index, function=optimize_share,
                arguments=(str(root), settings.storage, study.study_name, objective, settings,
                           settings.seed + done + 1000 * index, timeout, share))
            for index, share in enumerate(shares)]
    outcomes = list(make_executor(settings.executor).run(jobs))
    failed = [outcome.error for outcome in outcomes if outcome.error]
    if len(failed) == len(outcomes):
        raise ModelError(f"every trial worker failed; the first: {failed[0].strip().splitlines()[-1]}",
                         where=str(root), hint="run with --workers 1 to see the error in this process.")
