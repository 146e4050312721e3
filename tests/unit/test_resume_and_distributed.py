"""The loop's two promises that need real processes: exact resume after kill -9, and the same
training under ``accelerate launch --num_processes 2`` (CPU, gloo)."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

SCRIPT = "import sys, finegrain; finegrain.train(sys.argv[1], resume='--resume' in sys.argv)\n"


def _config(tmp_path: Path, tiny_model_dir: Path, files: dict, output: str, **train) -> Path:
    config = {
        "model": {"name": str(tiny_model_dir), "max_length": 32},
        "data": {name: str(path) for name, path in files.items()},
        "train": {"epochs": 4, "batch_size": 4, "lr": 3e-3, "checkpoint_every": 3, "log_every": 5, **train},
        "output": str(tmp_path / output),
    }
    path = tmp_path / f"{output}.yaml"
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    return path


def _env() -> dict:
    return {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}


def _run(args: list[str], tmp_path: Path) -> subprocess.CompletedProcess:
    return subprocess.run(args, cwd=tmp_path, env=_env(), capture_output=True, text=True, timeout=300)


def _metrics(run: Path) -> dict:
    return json.loads((run / "metrics.json").read_text())


def _step_of(run: Path) -> int:
    state = run / "checkpoints" / "last" / "trainer_state.json"
    try:
        return json.loads(state.read_text())["global_step"]
    except (OSError, ValueError, KeyError):
        return 0


def test_resume_after_kill_matches_uninterrupted_run(tmp_path, tiny_model_dir, sentiment_files):
    script = tmp_path / "train.py"
    script.write_text(SCRIPT)
    whole = _config(tmp_path, tiny_model_dir, sentiment_files, "whole")
    done = _run([sys.executable, str(script), str(whole)], tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]

    killed = _config(tmp_path, tiny_model_dir, sentiment_files, "killed")
    process = subprocess.Popen([sys.executable, str(script), str(killed)], cwd=tmp_path, env=_env(),
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 240
    while _step_of(tmp_path / "killed") < 40 and process.poll() is None and time.time() < deadline:
        time.sleep(0.01)
    process.send_signal(signal.SIGKILL)
    process.wait()
    step_at_kill = _step_of(tmp_path / "killed")
    assert 0 < step_at_kill < 120, "the kill must land in the middle of training"
    assert not (tmp_path / "killed" / "metrics.json").exists()

    resumed = _run([sys.executable, str(script), str(killed), "--resume"], tmp_path)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert _metrics(tmp_path / "killed") == _metrics(tmp_path / "whole")
    history = [json.loads(line) for line in (tmp_path / "killed" / "log.jsonl").read_text().splitlines()]
    whole_history = [json.loads(line) for line in (tmp_path / "whole" / "log.jsonl").read_text().splitlines()]
    evals = [r["eval"] for r in history if "eval" in r]
    assert evals[-1] == [r["eval"] for r in whole_history if "eval" in r][-1]
    # the steps between the last checkpoint and the kill are logged once, by the resumed run
    assert [r["step"] for r in history if "step" in r] == [r["step"] for r in whole_history if "step" in r]


@pytest.mark.skipif(shutil.which("accelerate") is None and not (Path(sys.executable).parent / "accelerate").exists(),
                    reason="accelerate's launcher is not installed")
def test_two_cpu_processes_train_equivalently(tmp_path, tiny_model_dir, sentiment_files):
    script = tmp_path / "train.py"
    script.write_text(SCRIPT)
    single = _config(tmp_path, tiny_model_dir, sentiment_files, "single", precision="fp32", checkpoint_every=None)
    double = _config(tmp_path, tiny_model_dir, sentiment_files, "double", precision="fp32", checkpoint_every=None)
    one = _run([sys.executable, str(script), str(single)], tmp_path)
    assert one.returncode == 0, one.stderr[-3000:]
    launcher = str(Path(sys.executable).parent / "accelerate")
    # accelerate's own --cpu flag starts one process unless MPI is set up; --multi_gpu goes through
    # torchrun, and on a machine without GPUs finegrain's Accelerator(cpu=True) then uses gloo.
    two = _run([launcher, "launch", "--multi_gpu", "--num_processes", "2", "--num_machines", "1",
                "--mixed_precision", "no", "--main_process_port", "29533", str(script), str(double)], tmp_path)
    assert two.returncode == 0, two.stderr[-3000:]
    info = json.loads((tmp_path / "double" / "run.json").read_text())
    assert info["num_processes"] == 2
    a, b = _metrics(tmp_path / "single"), _metrics(tmp_path / "double")
    for split in ("validation", "test"):
        assert abs(a[split]["accuracy"] - b[split]["accuracy"]) <= 0.07, (a[split]["accuracy"], b[split]["accuracy"])
    losses_a = [r["loss"] for r in map(json.loads, (tmp_path / "single" / "log.jsonl").read_text().splitlines()) if "loss" in r]
    losses_b = [r["loss"] for r in map(json.loads, (tmp_path / "double" / "log.jsonl").read_text().splitlines()) if "loss" in r]
    assert len(losses_a) == len(losses_b)
    # Same batches, split across processes: identical start; dropout noise differs per process
    # afterwards, so later windows drift, but both must converge.
    assert max(abs(x - y) for x, y in zip(losses_a[:6], losses_b[:6])) < 0.03
    assert losses_a[-1] < 0.6 * losses_a[0] and losses_b[-1] < 0.6 * losses_b[0]
