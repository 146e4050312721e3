"""A whole tune on the tiny model: trials through the CLI, the journal resumed, another tune's journal refused,
test scored only by the best run; and the loop's evaluation hook stopping a run (what pruning uses)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from finegrain.cli.main import main
from finegrain.errors import RunDirError
from finegrain.tune import load_tune_spec, run_tune

pytestmark = pytest.mark.usefixtures("one_thread")


def _config(tiny_model_dir: Path, files: dict[str, Path], output: Path, **search) -> dict:
    return {"model": {"name": str(tiny_model_dir), "max_length": 32},
            "data": {name: str(path) for name, path in files.items()},
            "train": {"epochs": 1, "batch_size": 16, "lr": 1e-3}, "output": str(output / "run"),
            "tune": {"trials": 2, "default_space": False},
            "search": {"train.lr": {"low": 1e-4, "high": 1e-2, "log": True}, "task.class_weights": ["none", "balanced"],
                       **search}}


@pytest.fixture(scope="module")
def tuned(tmp_path_factory, tiny_model_dir, sentiment_files):
    root = tmp_path_factory.mktemp("tune")
    path = root / "tune.yaml"
    path.write_text(yaml.safe_dump(_config(tiny_model_dir, sentiment_files, root)), encoding="utf-8")
    assert main(["tune", str(path), "--out", str(root / "t")]) == 0
    return path, root / "t"


def test_trials_score_validation_only_and_the_best_run_scores_test(tuned):
    _, folder = tuned
    summary = json.loads((folder / "tune.json").read_text(encoding="utf-8"))
    assert summary["counts"] == {"complete": 2}
    assert set(summary["best"]["params"]) == {"train.lr", "task.class_weights"}
    for trial in sorted((folder / "trials").iterdir()):
        metrics = json.loads((trial / "metrics.json").read_text(encoding="utf-8"))
        assert set(metrics) == {"validation"}  # no trial read the test split
        assert not (trial / "model").exists()  # weights dropped once scored
    best = json.loads((folder / "best" / "metrics.json").read_text(encoding="utf-8"))
    assert set(best) == {"validation", "test"} and summary["best"]["test"]["macro_f1"] == best["test"]["macro_f1"]
    # the best trial trained again from the same config and seed scores the same on validation
    assert best["validation"]["macro_f1"] == pytest.approx(summary["best"]["trial_validation"])
    html = (folder / "report.html").read_text(encoding="utf-8")
    assert "Optimisation history" in html and "data:image/png;base64," in html
    assert summary["best"]["command"] == f"finegrain train {folder / 'best.yaml'}"  # the config has tune: blocks
    assert yaml.safe_load((folder / "best.yaml").read_text(encoding="utf-8"))["output"] == str(folder / "best")


def test_resume_adds_trials_to_the_journal_and_a_different_tune_is_refused(tuned):
    path, folder = tuned
    before = json.loads((folder / "tune.json").read_text(encoding="utf-8"))["trials"]
    with pytest.raises(RunDirError, match="already holds this tune's journal"):
        run_tune(load_tune_spec(path, output=str(folder)))
    result = run_tune(load_tune_spec(path, output=str(folder), trials=3), resume=True)
    after = result.summary["trials"]
    assert [t["number"] for t in after] == [0, 1, 2] and after[:2] == before
    other = yaml.safe_load(path.read_text(encoding="utf-8"))
    other["search"]["train.lr"] = {"low": 1e-3, "high": 1e-1, "log": True}
    with pytest.raises(RunDirError, match=r"different tune \(changed: space.train.lr"):
        run_tune(load_tune_spec(other, output=str(folder), trials=3), resume=True)


def test_an_evaluation_hook_that_says_stop_ends_training_there(tmp_path, tiny_model_dir, sentiment_files):
    from finegrain.config import load_config
    from finegrain.training.runner import run_training

    config = _config(tiny_model_dir, sentiment_files, tmp_path)
    config = load_config({key: value for key, value in config.items() if key not in ("tune", "search")}
                         | {"train": {"epochs": 3, "batch_size": 16, "lr": 1e-3}})
    seen = []
    run_training(config, on_evaluate=lambda state, score: seen.append((state.epoch, score)) is None)
    info = json.loads((tmp_path / "run" / "run.json").read_text(encoding="utf-8"))
    assert [epoch for epoch, _ in seen] == [1] and info["stopped_early"] is True
    assert info["steps"] < info["total_steps"]


def test_each_trial_trains_once_per_seed_and_scores_their_mean(tmp_path, tiny_model_dir, sentiment_files):
    config = _config(tiny_model_dir, sentiment_files, tmp_path)
    config["tune"] = {"trials": 2, "default_space": False, "seeds": [3, 4], "pruner": "none"}
    summary = run_tune(load_tune_spec(config, output=str(tmp_path / "t"))).summary
    for record in summary["trials"]:
        folder = tmp_path / "t" / "trials" / f"{record['number']:04d}"
        scores = {seed: json.loads((folder / f"seed-{seed}" / "metrics.json").read_text())["validation"]["macro_f1"]
                  for seed in (3, 4)}
        assert yaml.safe_load((folder / "seed-4" / "config.yaml").read_text())["train"]["seed"] == 4
        assert record["seed_scores"] == {str(seed): pytest.approx(score) for seed, score in scores.items()}
        assert record["value"] == pytest.approx(sum(scores.values()) / 2)
