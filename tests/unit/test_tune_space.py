"""finegrain tune's search space: the default one from declared ranges, a user's search: block over it, and the
errors a bad search space gets (file:line, the method's parameters, the valid range)."""

from __future__ import annotations

from pathlib import Path

import pytest

from finegrain.errors import ConfigError, RunDirError
from finegrain.tune import load_tune_spec, parse_duration
from finegrain.tune.trials import Objective

BASE = {"data": {"train": "x.csv"}, "output": "runs/x"}


def _spec(method: str = "full", search: dict | None = None, **tune):
    return load_tune_spec({**BASE, "method": method, "search": search or {}, "tune": tune})


def test_default_space_of_a_trained_method_holds_training_task_and_method_parameters():
    space = _spec("lora").space
    assert {"train.lr", "train.epochs", "train.batch_size", "train.warmup", "train.weight_decay",
            "task.class_weights", "method.r", "method.alpha", "method.dropout"} <= set(space)
    lr = space["train.lr"]  # within a factor of 10 of LoRA's own default (1.5e-3), log scale
    assert lr.log and lr.low == pytest.approx(1.5e-4) and lr.high == pytest.approx(1.5e-2)
    assert space["task.class_weights"].choices == ("none", "balanced")
    assert "method.target_modules" not in space  # declared nowhere: not searched
    assert not any(key.startswith("method.") for key in _spec("full").space)


def test_a_fitted_method_searches_its_own_parameters_only():
    assert sorted(_spec("tfidf").space) == ["method.C", "method.class_weight", "method.min_df"]


def test_a_search_block_overrides_removes_and_adds_dimensions():
    space = _spec("lora", {"train.lr": {"low": "1e-5", "high": 1e-3, "log": True}, "train.batch_size": None,
                           "method.r": [4, 8], "model.max_length": [32, 64]}).space
    assert (space["train.lr"].low, space["train.lr"].high) == (1e-5, 1e-3)  # YAML's '1e-5' string read as a number
    assert "train.batch_size" not in space
    assert space["method.r"].choices == (4, 8) and space["model.max_length"].kind == "categorical"
    only = _spec("lora", {"method.r": [4, 8]}, default_space=False).space
    assert list(only) == ["method.r"]


def test_unknown_parameter_lists_the_methods_parameters_with_file_and_line(tmp_path: Path):
    path = tmp_path / "tune.yaml"
    path.write_text("method: {name: lora}\ndata: {train: x.csv}\noutput: runs/x\nsearch:\n"
                    "  train.lr: {low: 1.0e-5, high: 1.0e-3}\n  method.rank: [4, 8]\n", encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_tune_spec(path)
    assert f"{path}:6: method 'lora' has no parameter 'rank'" in caught.value.message
    assert "Its parameters: r, alpha, dropout, target_modules." in caught.value.message


def test_a_separate_search_file_gives_its_own_lines(tmp_path: Path):
    path = tmp_path / "search.yaml"
    path.write_text("train.warmup: {low: 0.0, high: 0.2}\ntrain.bogus: [1, 2]\n", encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_tune_spec({**BASE}, search_file=path)
    assert f"{path}:2: the train section has no parameter 'bogus'" in caught.value.message


@pytest.mark.parametrize(("entry", "expected"), [
    ({"method.dropout": {"low": 0.0, "high": 1.5}}, "1.5 is outside the parameter's valid range (method.dropout"),
    ({"train.lr": {"low": -1.0, "high": 1.0}}, "-1.0 is outside the parameter's valid range"),
    ({"method.r": {"low": 2, "high": 8.5}}, "integer: low and high must be whole numbers"),
    ({"task.class_weights": {"low": 0, "high": 1}}, "takes choices (none, balanced), not a range"),
    ({"train.lr": {"low": 0.0, "high": 1e-3, "log": True}}, "a log scale needs low > 0"),
    ({"train.lr": {"low": 1e-3, "high": 1e-5}}, "must be below high"),
    ({"train.lr": {"low": 1e-5, "high": 1e-3, "log": True, "step": 1e-5}}, "log: true or a step, not both"),
    ({"train.lr": {"low": 1e-5, "hi": 1e-3}}, "unknown key 'hi'. Did you mean 'high'?"),
    ({"data.train": ["a.csv"]}, "sections: train, task, method, model"),
])
def test_bad_entries_say_what_is_wrong(entry: dict, expected: str):
    with pytest.raises(ConfigError) as caught:
        _spec("lora", entry)
    assert expected in caught.value.message


def test_bad_settings_and_durations():
    with pytest.raises(ConfigError, match="tune.pruner"):
        _spec("full", pruner="hyperband")
    with pytest.raises(ConfigError, match="a duration such as 90s"):
        _spec("full", timeout="soon")
    with pytest.raises(ConfigError, match="each seed once"):
        _spec("full", seeds=[0, 1, 0])
    assert parse_duration("30m") == 1800 and parse_duration("2h") == 7200 and parse_duration("45") == 45


def test_fingerprint_follows_the_search_not_the_budget():
    first = _spec("lora", trials=5)
    assert first.fingerprint() == _spec("lora", trials=50, timeout="1h").fingerprint()
    assert first.fingerprint() != _spec("lora", {"method.r": [4]}, trials=5).fingerprint()
    assert first.output == Path("runs/x-tune")


class _PruningTrial:
    """Reports like an optuna trial whose pruner gives up at the second report."""

    def __init__(self):
        self.reports: list[tuple[float, int]] = []

    def report(self, value: float, step: int) -> None:
        self.reports.append((value, step))

    def should_prune(self) -> bool:
        return len(self.reports) >= 2


def test_the_pruning_hook_reports_by_samples_seen_and_stops_when_told():
    from finegrain.training.checkpoint import TrainerState

    trial, pruned = _PruningTrial(), []
    hook = Objective._reporter(trial, pruned)
    state = TrainerState()
    state.samples_seen = 100
    assert hook(state, 0.5) is False
    state.samples_seen = 200
    assert hook(state, 0.4) is True
    assert trial.reports == [(0.5, 100), (0.4, 200)] and pruned == [200]


def test_with_seeds_the_pruner_sees_the_running_mean_at_each_seeds_own_point():
    from finegrain.training.checkpoint import TrainerState
    from finegrain.tune.trials import INSTANCE_SPAN

    trial, pruned = _PruningTrial(), []
    hook = Objective._reporter(trial, pruned, 1, [0.8])  # the second seed; the first scored 0.8
    state = TrainerState()
    state.samples_seen = 100
    assert hook(state, 0.4) is False
    assert trial.reports == [(pytest.approx(0.6), INSTANCE_SPAN + 100)]


def _open(root: Path, storage: str, fingerprint: str, *, resume: bool = True, overwrite: bool = False):
    from finegrain.tune.storage import open_study

    return open_study(root, storage, {"space": {"train.lr": fingerprint}}, fingerprint, direction="maximize",
                      sampler=None, pruner=None, resume=resume, overwrite=overwrite)


@pytest.mark.parametrize("storage", ["journal", "database"])
def test_a_store_made_by_another_tune_is_refused_unless_overwritten(tmp_path: Path, storage: str):
    url = "journal" if storage == "journal" else f"sqlite:///{tmp_path / 'tune.db'}"
    root = tmp_path / "t"
    _open(root, url, "a", resume=False).enqueue_trial({})
    assert len(_open(root, url, "a").trials) == 1  # the same tune: resumed
    with pytest.raises(RunDirError, match=r"different tune \(changed: space.train.lr\)"):
        _open(root, url, "b")
    assert len(_open(root, url, "b", overwrite=True).trials) == 0


def test_a_trial_left_running_by_a_killed_process_is_failed_on_resume(tmp_path: Path):
    import subprocess
    import sys

    from optuna.trial import TrialState

    from finegrain.tune.storage import fail_orphaned_trials, worker_name

    study = _open(tmp_path / "t", "journal", "a", resume=False)
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    for pid in (int(gone.stdout), None):  # a dead worker's trial, and this (live) process's
        trial = study.ask()
        trial.set_user_attr("worker", worker_name() if pid is None else f"{worker_name().rpartition(':')[0]}:{pid}")
    assert fail_orphaned_trials(study) == [0]
    assert [t.state for t in study.trials] == [TrialState.FAIL, TrialState.RUNNING]


def test_no_trial_reads_the_test_split(tmp_path: Path, sentiment_files):
    """The trial data is train and validation only: a test file that does not exist is never opened."""
    from finegrain.training.setup import build_task
    from finegrain.tune.trials import prepare_trial_data

    spec = load_tune_spec({"data": {"train": str(sentiment_files["train"]), "test": str(tmp_path / "missing.csv")},
                           "output": str(tmp_path / "run")})
    section = prepare_trial_data(spec.config, build_task(spec.config)).write(tmp_path / "t")
    assert set(section) >= {"train", "validation"} and "test" not in section
    assert (tmp_path / "t" / "data" / "validation.jsonl").is_file()


def test_the_best_command_overrides_a_plain_config_file(tmp_path: Path):
    from finegrain.tune import best_command

    path = tmp_path / "run.yaml"
    path.write_text("method: lora\ndata: {train: x.csv}\noutput: runs/x\n", encoding="utf-8")
    spec = load_tune_spec(path)
    command = best_command(spec, {"train.lr": 0.000123, "method.r": 8, "task.class_weights": "balanced"},
                           tmp_path / "best.yaml", Path("runs/x-tune/best"))
    assert command == (f"finegrain train {path} task=classification method.r=8 task.class_weights=balanced"
                       " train.lr=0.000123"
                       " output=runs/x-tune/best")
    from finegrain.config import load_config

    again = load_config(path, command.split()[3:])  # what finegrain train makes of it
    assert (again.method.params["r"], again.train.lr, again.output) == (8, 0.000123, "runs/x-tune/best")


def test_the_cli_prints_a_bad_search_space_without_a_traceback(tmp_path: Path, capsys):
    from finegrain.cli.main import main

    path = tmp_path / "tune.yaml"
    path.write_text("method: lora\ndata: {train: x.csv}\noutput: runs/x\nsearch:\n  method.dropout: {low: 0, high: 2}\n",
                    encoding="utf-8")
    assert main(["tune", str(path), "--trials", "2"]) == 2
    error = capsys.readouterr().err
    assert f"{path}:5: 2 is outside the parameter's valid range" in error and "Traceback" not in error
