"""`finegrain tune` with trial workers on a local Ray cluster: two workers share the journal, the tune gets
exactly its trials, each trial is run once, and the best one is trained again by the driver."""

from __future__ import annotations

import json

import pytest
import yaml
from test_tune_run import _config

from finegrain.cli.main import main

ray = pytest.importorskip("ray", reason="ray is not installed (pip install 'finegrain[ray]')")


def test_two_ray_workers_share_the_journal_and_stop_at_the_trials_asked(one_thread, tmp_path, tiny_model_dir,
                                                                         sentiment_files, capsys):
    path = tmp_path / "tune.yaml"
    path.write_text(yaml.safe_dump(_config(tiny_model_dir, sentiment_files, tmp_path)), encoding="utf-8")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, logging_level="WARNING")
    try:
        code = main(["tune", str(path), "--out", str(tmp_path / "t"), "--trials", "3", "--executor", "ray",
                     "--workers", "2", "--cpus-per-trial", "1"])
    finally:
        ray.shutdown()
    assert code == 0, capsys.readouterr().err
    summary = json.loads((tmp_path / "t" / "tune.json").read_text(encoding="utf-8"))
    assert summary["counts"] == {"complete": 3}  # the journal's callback stopped both workers at 3 in all
    assert sorted(p.name for p in (tmp_path / "t" / "trials").iterdir()) == ["0000", "0001", "0002"]
    assert (tmp_path / "t" / "best" / "metrics.json").is_file()
    printed = capsys.readouterr().out
    assert printed.count("trial ") >= 3 and "best trial" in printed


def test_parallel_trials_need_ray_and_a_shared_storage(tmp_path, tiny_model_dir, sentiment_files, capsys):
    path = tmp_path / "tune.yaml"
    path.write_text(yaml.safe_dump(_config(tiny_model_dir, sentiment_files, tmp_path)), encoding="utf-8")
    assert main(["tune", str(path), "--workers", "2"]) == 2
    assert "need the ray executor" in capsys.readouterr().err
    assert main(["tune", str(path), "--executor", "ray", "--storage", "memory"]) == 2
    assert "cannot share an in-memory study" in capsys.readouterr().err
    assert not (tmp_path / "run-tune").exists()  # refused before anything was written
