"""The Python entry points: train, evaluate, load.

Example:
    >>> import finegrain
    >>> result = finegrain.train({"data": {"train": "bbc-news"}, "output": "runs/bbc"})  # doctest: +SKIP
    >>> result.metrics["test"]["macro_f1"]  # doctest: +SKIP
    >>> finegrain.load("runs/bbc").predict(["Shares rose after the merger."])  # doctest: +SKIP
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from finegrain.config import RunConfig, load_config
from finegrain.data.sources import load_source
from finegrain.data.tables import ColumnOptions
from finegrain.errors import ConfigError
from finegrain.training.predictor import Predictor, load_predictor, run_splits
from finegrain.training.run_dir import RunResult, evaluation_path
from finegrain.training.setup import foreign_columns

__all__ = ["train", "evaluate", "load", "RunResult", "Predictor"]

# how `finegrain eval` chooses the columns of other data: messages name these, not data.text
EVAL_OPTIONS = ColumnOptions(text="--text-column", label="--label-column", tag_column="--tag-column")


def train(config: RunConfig | dict[str, Any] | str | Path, overrides: list[str] | None = None, *,
          resume: bool = False, overwrite: bool = False) -> RunResult:
    """Train a run from a config (object, dict or YAML path) plus dotted overrides."""
    from finegrain.training.runner import run_training  # the loop and accelerate: not for load() and evaluate()

    if not isinstance(config, RunConfig) or overrides:
        source = config.model_dump(mode="json") if isinstance(config, RunConfig) else config
        config = load_config(source, overrides)
    return run_training(config, resume=resume, overwrite=overwrite)


def load(run_dir: str | Path, device: str | None = None, *, base: str | None = None) -> Predictor:
    """A predictor for a finished run: ``load(run).predict(["text", ...])``.

    ``base`` is the folder (or registered or hub name) of the run's base model, for an adapter run
    copied without it: by default the run finds it by the name, or the path relative to the run,
    that it recorded.
    """
    return load_predictor(run_dir, device, base=base)


def evaluate(run_dir: str | Path, data: str | None = None, *, text_column: str | None = None,
             label_column: str | None = None, tag_column: int | None = None,
             base: str | None = None) -> dict[str, dict[str, Any]]:
    """Metrics of a finished run on ``data`` (a file, or a built-in whose test split is used), or on
    its own validation/test splits.

    ``text_column``/``label_column`` name ``data``'s columns when they differ from the run's
    (``data.text``/``data.label``), and ``tag_column`` a CoNLL file's tag column; they mirror
    ``finegrain eval --text-column/--label-column/--tag-column``, which messages name; ``base`` as for
    :func:`load`.
    Results on extra data are also written to ``RUN/evaluations/<name>.json``.

    Example:
        >>> finegrain.evaluate("runs/reviews", "new.csv", text_column="review", label_column="stars")  # doctest: +SKIP
    """
    if data is None and (text_column, label_column, tag_column) != (None, None, None):
        raise ConfigError("--text-column, --label-column and --tag-column name the columns of --data, but no"
                          " --data was given (the run's own splits are read with its config).",
                          hint="add --data FILE, or leave out the column options.")
    predictor = load_predictor(run_dir, base=base)
    cfg = predictor.config
    if data is None:
        return {name: predictor.evaluate(split) for name, split in run_splits(predictor).items()}
    chosen = cfg.data.chosen_columns(predictor.task.data_columns)
    chosen.update({key: column for key, column in (("text", text_column), ("label", label_column)) if column})
    split = load_source(data, "test", predictor.task.columns(chosen), options=EVAL_OPTIONS,
                        tag_column=tag_column if tag_column is not None else cfg.data.tag_column,
                        foreign=foreign_columns(predictor.task))
    split.name = "evaluation"
    name = Path(data).stem if Path(data).exists() else data
    metrics = predictor.evaluate(split)
    path = evaluation_path(predictor.run.path, name)
    path.parent.mkdir(exist_ok=True)
    path.write_text(json.dumps(metrics, indent=2))
    return {name: metrics}
