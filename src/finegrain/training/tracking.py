"""Experiment tracking through accelerate's trackers (``train.report_to: [tensorboard, mlflow]``).

Everything the loop writes to ``log.jsonl`` (loss, lr, samples/s, each evaluation's metrics) also goes
to the trackers, then the final validation and test metrics; the run's config is logged as
hyper-parameters. Files stay in the run folder by default: TensorBoard event files under
``tracking/``, MLflow's file store in ``tracking/mlruns`` (no server; ``MLFLOW_TRACKING_URI`` points
elsewhere, e.g. a server or one store for a whole study). Neither package is a default dependency:
``pip install 'finegrain[tracking]'``.

Example:
    >>> finegrain.train({"data": {"train": "bbc-news"}, "train": {"report_to": ["tensorboard"]},
    ...                  "output": "runs/bbc"})  # doctest: +SKIP
    # then: tensorboard --logdir runs/bbc/tracking
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from accelerate import Accelerator

from finegrain.errors import ConfigError

__all__ = ["TRACKERS", "TRACKING_FOLDER", "check_trackers", "tracker_options", "tracking", "log_to_trackers"]

TRACKERS = {"tensorboard": "tensorboard", "mlflow": "mlflow"}  # tracker -> the module accelerate imports for it
TRACKING_FOLDER = "tracking"
# accelerate's project name: TensorBoard's subfolder of tracking/ and MLflow's experiment
# (MLFLOW_EXPERIMENT_NAME overrides the latter; accelerate reads it)
_PROJECT = "finegrain"


def check_trackers(report_to: Sequence[str]) -> None:
    """Fail before training when a tracker's package is missing (accelerate would silently skip it)."""
    missing = [name for name in report_to if importlib.util.find_spec(TRACKERS[name]) is None]
    if missing:
        raise ConfigError(f"train.report_to names {', '.join(missing)}, but the package is not installed.",
                          where="train.report_to",
                          hint="Install the trackers with: pip install 'finegrain[tracking]' (tensorboard and "
                               "mlflow-skinny), or remove them from train.report_to.")


def tracker_options(report_to: Sequence[str], run_path: Path | None) -> dict[str, Any]:
    """The Accelerator's arguments for the trackers: which ones, and the folder their files go to."""
    if not report_to:
        return {}
    check_trackers(report_to)
    if run_path is None:
        raise ConfigError("train.report_to is not supported for this kind of run.", where="train.report_to",
                          hint="Remove train.report_to; log.jsonl in the run folder has the same records.")
    return {"log_with": list(report_to), "project_dir": str(run_path / TRACKING_FOLDER)}


@contextmanager
def tracking(accelerator: Accelerator, run_path: Path, run_name: str, config: Mapping[str, Any]) -> Iterator[None]:
    """Start the accelerator's trackers (if any) for this run, log ``config`` as hyper-parameters, end them after."""
    if not accelerator.log_with:
        yield
        return
    if "mlflow" in [str(name) for name in accelerator.log_with] and not os.environ.get("MLFLOW_TRACKING_URI"):
        import mlflow

        # MLflow 3 refuses its file store unless asked: it is what keeps a run's tracking inside its folder
        os.environ.setdefault("MLFLOW_ALLOW_FILE_STORE", "true")
        mlflow.set_tracking_uri((run_path / TRACKING_FOLDER / "mlruns").resolve().as_uri())
    accelerator.init_trackers(_PROJECT, config=_hyperparameters(config), init_kwargs={"mlflow": {"run_name": run_name}})
    try:
        yield
    finally:
        accelerator.end_training()


def log_to_trackers(accelerator: Accelerator, record: Mapping[str, Any], step: int | None = None) -> None:
    """One ``log.jsonl`` record as scalars: ``loss``, ``lr``, ``samples_per_second``, ``eval/macro_f1`` ..."""
    if not accelerator.trackers:
        return
    values = _scalars(record)
    step = step if step is not None else record.get("step", record.get("eval", {}).get("step"))
    values.pop("step", None)
    values.pop("eval/step", None)
    accelerator.log(values, step=step)


def _scalars(record: Mapping[str, Any], prefix: str = "") -> dict[str, float]:
    values: dict[str, float] = {}
    for key, value in record.items():
        if isinstance(value, Mapping):
            values.update(_scalars(value, f"{prefix}{key}/"))
        elif isinstance(value, (int, float)) and not isinstance(value, bool):
            values[f"{prefix}{key}"] = value
    return values


def _hyperparameters(config: Mapping[str, Any]) -> dict[str, Any]:
    """The config as flat ``section.key`` values (TensorBoard's hparams take only scalars and strings)."""
    flat: dict[str, Any] = {}
    for key, value in config.items():
        if isinstance(value, Mapping):
            flat.update({f"{key}.{inner}": item for inner, item in _hyperparameters(value).items()})
        else:
            flat[key] = value if isinstance(value, (int, float, str, bool)) else str(value)
    return flat
