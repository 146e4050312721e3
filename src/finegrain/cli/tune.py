"""``finegrain tune``: hyper-parameter search (Optuna) over a run config, then the best run trained again.

Example:
    finegrain tune configs/tweet-sentiment.yaml --trials 20 --timeout 30m
    finegrain tune configs/tweet-sentiment.yaml --trials 40 --resume
"""

from __future__ import annotations

import argparse
from typing import Any

from finegrain.cli.console import make_console

__all__ = ["add_parser", "run"]


def add_parser(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "tune", help="search hyper-parameters (Optuna), then train the best run",
        description="Search the run's training, task and method parameters: each trial trains on train and is"
        " scored on validation (unpromising trials are pruned); the best trial is trained again as an ordinary"
        " run directory, the only run that scores test. The default search space comes from the ranges the"
        " parameters declare; a search: block in CONFIG (or --search FILE) overrides it, and a tune: block sets"
        " the options below. The tune folder gets tune.json, report.md and report.html.",
        epilog="Example: finegrain tune configs/tweet-sentiment.yaml --trials 20 --timeout 30m")
    parser.add_argument("config", metavar="CONFIG.yaml", help="a run config, with optional tune: and search: blocks")
    parser.add_argument("--trials", type=int, help="finished trials in all (tune.trials; default 20)")
    parser.add_argument("--timeout", help="stop starting trials after this long: 90s, 30m, 2h (tune.timeout)")
    parser.add_argument("--search", metavar="FILE.yaml", help="the search space, in place of CONFIG's search: block")
    parser.add_argument("--out", help="the tune folder (tune.output; default: the run's output + '-tune')")
    parser.add_argument("--storage", help="journal (default), memory, or a database URL (tune.storage)")
    parser.add_argument("--seeds", type=int, nargs="+", metavar="SEED",
                        help="train each trial once per seed and score the mean; the pruner stops a trial poor on its"
                             " first seed there (tune.seeds)")
    parser.add_argument("--resume", action="store_true", help="continue the tune in the folder (its journal)")
    parser.add_argument("--overwrite", action="store_true", help="delete the tune in the folder and start again")
    parallel = parser.add_argument_group("trials at once (tune.executor, tune.workers)")
    parallel.add_argument("--executor", choices=["local", "ray"], help="local (default) or ray: trial workers in"
                          " their own processes on the shared journal (pip install 'finegrain[ray]')")
    parallel.add_argument("--address", help="ray: auto, local (start Ray here for this command) or HOST:PORT")
    parallel.add_argument("--workers", type=int, help="ray: trials at once (default 1)")
    parallel.add_argument("--cpus-per-trial", type=float, help="ray: CPUs per trial, also its torch threads")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from finegrain.tune import load_tune_spec, run_tune  # heavy (optuna, torch, transformers)

    executor = {key: value for key, value in (("name", args.executor), ("address", args.address),
                                              ("cpus", args.cpus_per_trial)) if value is not None}
    spec = load_tune_spec(args.config, search_file=args.search, trials=args.trials, timeout=args.timeout,
                          output=args.out, storage=args.storage, workers=args.workers, executor=executor or None,
                          seeds=args.seeds)
    console = make_console()
    console.print(f"searching {len(spec.space)} parameters: {', '.join(sorted(spec.space))}", markup=False,
                  highlight=False)

    def report_trial(trial: Any) -> None:
        state = trial.state.name.lower()
        if trial.value is not None:
            seeds = trial.user_attrs.get("seed_scores")
            each = f" (mean of seeds {', '.join(f'{k}: {v:.4f}' for k, v in seeds.items())})" if seeds else ""
            outcome = f"validation {trial.value:.4f}{each}"
        else:
            outcome = str(trial.user_attrs.get("error", ""))[:160]
        seconds = trial.duration.total_seconds() if trial.duration is not None else 0.0
        console.print(f"trial {trial.number}: {state} {outcome} ({seconds:.0f} s)", markup=False, highlight=False)

    result = run_tune(spec, resume=args.resume, overwrite=args.overwrite, on_trial=report_trial)
    best, metric = result.summary["best"], result.summary["metric"]
    test = (best["test"] or {}).get(metric)
    console.print(f"best trial {best['trial']}: validation {metric} {best['trial_validation']:.4f};"
                  f" trained again: test {metric} {'-' if test is None else f'{test:.4f}'}", markup=False,
                  highlight=False)
    console.print(f"best run:  {result.best_run}", markup=False, highlight=False)
    console.print(f"reproduce: {best['command']}", markup=False, highlight=False)
    console.print(f"report:    {result.report}  (also {result.path / 'report.md'})", markup=False, highlight=False)
    return 0
