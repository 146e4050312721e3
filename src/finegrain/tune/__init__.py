"""``finegrain tune``: hyper-parameter search with Optuna over a run config's training, task and method parameters.

The default search space comes from the ranges the config fields declare (:mod:`finegrain.searchable`); a
``search:`` block overrides it. Trials train on train and score on validation; the best trial is trained
again as an ordinary run directory, the only one that scores the test split.

Example:
    >>> from finegrain.tune import load_tune_spec, run_tune
    >>> result = run_tune(load_tune_spec("configs/tweet-sentiment.yaml", trials=20))  # doctest: +SKIP
    >>> result.best_run  # doctest: +SKIP
    PosixPath('runs/tweet-sentiment-tune/best')
"""

from finegrain.tune.runner import TuneResult, best_command, run_tune
from finegrain.tune.settings import TuneSettings, TuneSpec, load_tune_spec, parse_duration
from finegrain.tune.space import Dimension, build_space, default_space

__all__ = ["run_tune", "TuneResult", "best_command", "load_tune_spec", "TuneSpec", "TuneSettings", "parse_duration",
           "Dimension", "build_space", "default_space"]
