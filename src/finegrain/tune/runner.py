"""Run a tune: trials on train/validation until the budget is spent, then the best trial as an ordinary run.

The tune folder holds ``journal.log`` (Optuna's journal, unless the storage is memory or a database),
``data/`` (the train and validation files every trial reads), ``trials/NNNN/`` (one run directory per trial,
without weights), ``best.yaml`` and ``best/`` (the best trial's config, trained again: the one run that
scores the test split), ``tune.json`` and the report. A killed tune resumes with ``--resume``: finished
trials are kept, a trial the kill interrupted is recorded as failed.

Example:
    >>> result = run_tune(load_tune_spec("configs/tweet-sentiment.yaml", trials=20))  # doctest: +SKIP
    >>> result.summary["best"]["test"]["macro_f1"]  # doctest: +SKIP
    0.69
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from finegrain.config import dump_config, load_config, merge_sections
from finegrain.errors import FinegrainError, RunDirError
from finegrain.training.run_dir import RunDir
from finegrain.training.runner import run_training
from finegrain.training.setup import build_task
from finegrain.tune.report import summarize, write_tune_report
from finegrain.tune.settings import TuneSettings, TuneSpec, parse_duration
from finegrain.tune.parallel import check_parallel, run_parallel_trials
from finegrain.tune.storage import fail_orphaned_trials, open_study
from finegrain.tune.space import overrides_of
from finegrain.tune.trials import Objective, prepare_trial_data

__all__ = ["TuneResult", "run_tune", "best_command", "BEST_FILE"]

BEST_FILE = "best.yaml"


@dataclass
class TuneResult:
    path: Path
    best_run: Path
    summary: dict[str, Any]
    report: Path


def run_tune(spec: TuneSpec, *, resume: bool = False, overwrite: bool = False,
             on_trial: Callable[[Any], None] | None = None) -> TuneResult:
    """Run the trials not yet done, train the best one again as ``best/`` (test scored there, once), report.

    ``on_trial(frozen_trial)`` is called after each trial (the CLI prints a line).
    """
    import optuna

    check_parallel(spec.settings)
    started = time.perf_counter()
    optuna.logging.set_verbosity(logging.ERROR)  # failed trials are recorded in tune.json and told by on_trial
    root, settings = spec.output, spec.settings
    task = build_task(spec.config)
    data = prepare_trial_data(spec.config, task)  # read before the journal is opened: bad data leaves nothing
    study = open_study(root, settings.storage, spec.described(), spec.fingerprint(),
                       direction="maximize" if task.greater_is_better else "minimize", sampler=None,
                       pruner=make_pruner(settings), resume=resume, overwrite=overwrite)
    fail_orphaned_trials(study)
    section = data.write(root)  # after the refusals: a refused tune must not rewrite the files another one reads
    # a resumed tune must not draw the first trials' values again: the seed moves on with the trials done
    study.sampler = make_sampler(settings, settings.seed + len(study.trials))
    finished = (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED, optuna.trial.TrialState.FAIL)
    remaining = settings.trials - len(study.get_trials(deepcopy=False, states=finished))
    objective = Objective(spec.base, spec.space, section, root, task.primary_metric, settings.seeds)
    if remaining > 0 and settings.executor.name == "ray":  # workers in their own processes, on the shared journal
        known = {trial.number for trial in study.trials}
        run_parallel_trials(root, study, objective, settings, parse_duration(settings.timeout), remaining)
        for trial in study.get_trials(deepcopy=False):
            if trial.number not in known and on_trial is not None:
                on_trial(trial)
    elif remaining > 0:
        callbacks = [optuna.study.MaxTrialsCallback(settings.trials, states=finished)]
        if on_trial is not None:
            callbacks.append(lambda _, trial: on_trial(trial))
        study.optimize(objective, n_trials=remaining, timeout=parse_duration(settings.timeout),
                       catch=(FinegrainError,), callbacks=callbacks)
    best_run, metrics, command = _train_best(spec, study, root)
    summary = summarize(spec, study, task, metrics, command, wall_seconds=time.perf_counter() - started)
    report = write_tune_report(root, summary, study)
    return TuneResult(root, best_run, summary, report)


def make_sampler(settings: TuneSettings, seed: int) -> Any:
    import optuna

    if settings.sampler == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    return optuna.samplers.TPESampler(seed=seed)


def make_pruner(settings: TuneSettings) -> Any:
    import optuna

    if settings.pruner == "median":
        return optuna.pruners.MedianPruner(n_startup_trials=settings.prune_after)
    if settings.pruner == "halving":
        return optuna.pruners.SuccessiveHalvingPruner()
    return optuna.pruners.NopPruner()


def _train_best(spec: TuneSpec, study: Any, root: Path) -> tuple[Path, dict[str, Any], str]:
    """Write ``best.yaml`` (the base config with the best values) and train it into ``best/``, as the command
    returned says; a best run already trained from the same config is kept."""
    try:
        best = study.best_trial
    except ValueError:
        raise RunDirError(f"no trial of the tune in '{root}' finished, so there is no best one.",
                          hint="Look at the failed trials' errors in tune.json or trials/*/; fix the search space"
                               " or the config, then run again with --overwrite.") from None
    run = RunDir(root / "best")
    best_config = {**merge_sections(spec.base, overrides_of(best.params)), "output": str(run.path)}
    path = root / BEST_FILE
    path.write_text(yaml.safe_dump(best_config, sort_keys=False, allow_unicode=True), encoding="utf-8")
    config = load_config(best_config)
    same = run.is_finished() and run.config.read_text(encoding="utf-8") == dump_config(config)
    result = run_training(config, resume=same, overwrite=run.path.exists() and not same)
    return Path(result.run_dir), result.metrics, best_command(spec, best.params, path, run.path)


def best_command(spec: TuneSpec, params: dict[str, Any], best_file: Path, output: Path) -> str:
    """The command line that trains the best run: on the user's config file with the best values as overrides
    when that file is a plain run config, else on ``best.yaml``."""
    written = _written(spec.config_path)
    if written is None or "tune" in written or "search" in written:
        return f"finegrain train {best_file}"
    # task.KEY=VALUE needs the task's name beside it where the file leaves the task to its default
    names = [f"{section}={getattr(spec.config, section).name}" for section in ("task", "method")
             if section not in written and any(key.startswith(f"{section}.") for key in params)]
    overrides = " ".join([*names, *(f"{key}={_shown(value)}" for key, value in sorted(params.items()))])
    return f"finegrain train {spec.config_path} {overrides} output={output}"


def _written(path: str | None) -> dict[str, Any] | None:
    """The sections of the config file as written; None without a YAML file."""
    if path is None or not path.endswith((".yaml", ".yml")):
        return None
    data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    return data if isinstance(data, dict) else None


def _shown(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return repr(value) if isinstance(value, float) else str(value)
