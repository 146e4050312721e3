"""train.report_to: each tracker's files in the run folder hold the loss, the lr, samples/s, the evaluations, the
final test metrics and the config as hyper-parameters; a missing tracker package fails before training."""

from __future__ import annotations

from pathlib import Path

import pytest

import finegrain
from finegrain.errors import ConfigError
from finegrain.training.tracking import TRACKERS

pytestmark = pytest.mark.usefixtures("one_thread")


def _config(tiny_model_dir: Path, files: dict[str, Path], output: Path, report_to: list[str]) -> dict:
    return {"model": {"name": str(tiny_model_dir), "max_length": 32},
            "data": {name: str(path) for name, path in files.items()},
            "train": {"epochs": 1, "batch_size": 8, "lr": 1e-3, "log_every": 2, "report_to": report_to},
            "output": str(output)}


def test_tensorboard_events_hold_the_loss_and_the_evaluation(tmp_path, tiny_model_dir, sentiment_files):
    pytest.importorskip("tensorboard", reason="tensorboard is not installed (pip install 'finegrain[tracking]')")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    result = finegrain.train(_config(tiny_model_dir, sentiment_files, tmp_path / "run", ["tensorboard"]))
    folder = result.run_dir / "tracking" / "finegrain"
    assert list(folder.glob("events.out.tfevents.*"))
    events = EventAccumulator(str(folder)).Reload()
    tags = set(events.Tags()["scalars"])
    assert {"loss", "lr", "samples_per_second", "eval/macro_f1", "test/macro_f1"} <= tags
    losses = events.Scalars("loss")
    assert len(losses) >= 2 and all(point.value > 0 for point in losses)
    assert events.Scalars("test/macro_f1")[0].value == pytest.approx(result.metrics["test"]["macro_f1"])
    (hparams,) = folder.glob("*/hparams.yml")  # accelerate writes them into a timestamped subfolder
    assert "train.lr: 0.001" in hparams.read_text()


def test_a_study_logs_each_cell_as_its_own_run(tmp_path, tiny_model_dir, sentiment_files):
    pytest.importorskip("tensorboard", reason="tensorboard is not installed (pip install 'finegrain[tracking]')")
    from finegrain.study import run_study

    config = {**_config(tiny_model_dir, sentiment_files, tmp_path / "study", ["tensorboard"]),
              "methods": ["full"], "sizes": [2], "seeds": [0, 1]}
    run_study(config)
    cells = sorted((tmp_path / "study" / "cells").glob("*/*/*/run/tracking/finegrain/events.out.tfevents.*"))
    assert [path.parts[-5] for path in cells] == ["seed-0", "seed-1"]


def test_mlflow_file_store_holds_the_loss_and_the_config(tmp_path, tiny_model_dir, sentiment_files, monkeypatch):
    pytest.importorskip("mlflow", reason="mlflow is not installed (pip install 'finegrain[tracking]')")
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    result = finegrain.train(_config(tiny_model_dir, sentiment_files, tmp_path / "run", ["mlflow"]))
    runs = [path.parent for path in (result.run_dir / "tracking" / "mlruns").glob("*/*/meta.yaml")]
    assert len(runs) == 1
    losses = (runs[0] / "metrics" / "loss").read_text().splitlines()
    assert len(losses) >= 2 and all(float(line.split()[1]) > 0 for line in losses)  # "timestamp value step"
    test_f1 = float((runs[0] / "metrics" / "test" / "macro_f1").read_text().split()[1])
    assert test_f1 == pytest.approx(result.metrics["test"]["macro_f1"])
    assert (runs[0] / "params" / "train.lr").read_text() == "0.001"
    assert (runs[0] / "tags" / "mlflow.runName").read_text() == str(tmp_path / "run")


def test_a_missing_tracker_package_names_the_extra_before_training(tmp_path, tiny_model_dir, sentiment_files,
                                                                   monkeypatch):
    monkeypatch.setitem(TRACKERS, "mlflow", "finegrain_no_such_module")
    with pytest.raises(ConfigError, match=r"mlflow.*not installed(.|\n)*finegrain\[tracking\]"):
        finegrain.train(_config(tiny_model_dir, sentiment_files, tmp_path / "run", ["mlflow"]))
    assert not (tmp_path / "run").exists()
    with pytest.raises(ConfigError, match="report_to"):
        finegrain.train(_config(tiny_model_dir, sentiment_files, tmp_path / "run", ["wandb"]))
