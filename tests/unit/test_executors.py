"""The executor seam without a cluster: local outcomes, the executor section, and the errors of the ray executor
(not installed, nothing at the address) that must come within seconds, before any work."""

from __future__ import annotations

import socket
import sys
import time
from pathlib import Path

import pytest

from finegrain.cli.main import main
from finegrain.errors import ConfigError
from finegrain.executors import ExecutorConfig, Job, LocalExecutor, make_executor
from finegrain.study import load_study_config


def _halve(number: int) -> float:
    if number < 0:
        raise ValueError(f"negative: {number}")
    return number / 2


def test_local_executor_runs_jobs_in_order_and_turns_a_failure_into_an_outcome():
    outcomes = list(LocalExecutor().run([Job(n, _halve, (n,)) for n in (4, -1, 2)]))
    assert [o.job.key for o in outcomes] == [4, -1, 2]
    assert [o.value for o in outcomes] == [2.0, None, 1.0]
    assert outcomes[1].error.startswith("ValueError: negative: -1") and outcomes[0].error is None
    assert all(o.threads is None for o in outcomes)  # the local executor leaves the caller's threads alone


def test_the_executor_section_takes_a_bare_name_and_checks_the_address():
    base = {"data": {"train": "bbc-news"}, "methods": ["tfidf"], "output": "s"}
    assert load_study_config({**base, "executor": "ray"}).executor == ExecutorConfig(name="ray")
    merged = load_study_config({**base, "executor": "ray"}, ["executor.address=\"10.0.0.1:6379\""])
    assert (merged.executor.name, merged.executor.address) == ("ray", "10.0.0.1:6379")
    with pytest.raises(ConfigError, match="executor.address.*HOST:PORT"):
        load_study_config({**base, "executor": {"name": "ray", "address": "head-node"}})
    with pytest.raises(ConfigError, match="executor.name"):
        load_study_config({**base, "executor": "dask"})


def test_ray_executor_without_ray_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)  # import ray now raises ImportError
    with pytest.raises(ConfigError, match=r"finegrain\[ray\]"):
        make_executor(ExecutorConfig(name="ray"))


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_an_unreachable_ray_address_fails_in_seconds_from_the_cli(tmp_path: Path, capsys):
    pytest.importorskip("ray", reason="ray is not installed (pip install 'finegrain[ray]')")
    study = tmp_path / "study.yaml"
    study.write_text(f"data: {{train: bbc-news}}\nmethods: [tfidf]\noutput: {tmp_path / 'out'}\n")
    started = time.perf_counter()
    code = main(["study", str(study), "--executor", "ray", "--address", f"127.0.0.1:{_closed_port()}"])
    assert code == 2 and time.perf_counter() - started < 15
    err = capsys.readouterr().err
    assert "No Ray cluster answers at 127.0.0.1:" in err and "Traceback" not in err
    assert not (tmp_path / "out").exists()  # refused before the study folder was made


def test_a_study_resumes_under_another_executor_setting(tmp_path: Path, sentiment_files):
    from finegrain.study import run_study

    study = {"data": {name: str(path) for name, path in sentiment_files.items()}, "methods": ["tfidf"],
             "sizes": [2], "seeds": [0], "latency": False, "output": str(tmp_path / "s")}
    first = run_study(study)
    cell = first.path / "cells/tfidf/size-2/seed-0/cell.json"
    before = cell.stat().st_mtime_ns
    # where the cells run is not part of what the study is: a changed executor section resumes
    run_study({**study, "executor": {"name": "local", "cpus": 4}}, resume=True)
    assert cell.stat().st_mtime_ns == before
