"""The loop's promises that need real processes: exact resume after kill -9, the same training
under ``accelerate launch --num_processes 2`` (CPU, gloo), and evaluation split between processes."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import yaml

import finegrain
from conftest import make_sentiment_rows, write_csv
from serving_runs import write_conll
from sharded_evaluation import score

SCRIPT = "import sys, finegrain; finegrain.train(sys.argv[1], resume='--resume' in sys.argv)\n"


def _config(tmp_path: Path, tiny_model_dir: Path, files: dict, output: str, task: str = "classification",
            **train) -> Path:
    config = {
        "task": task,
        "model": {"name": str(tiny_model_dir), "max_length": 32},
        "data": {name: str(path) for name, path in files.items()},
        "train": {"epochs": 4, "batch_size": 4, "lr": 3e-3, "checkpoint_every": 3, "log_every": 5, **train},
        "output": str(tmp_path / output),
    }
    path = tmp_path / f"{output}.yaml"
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    return path


def _env() -> dict:
    # the processes import the finegrain under test, even where PYTHONPATH is relative (they run in tmp_path)
    source = str(Path(finegrain.__file__).resolve().parents[1])
    path = os.pathsep.join(filter(None, [source, os.environ.get("PYTHONPATH")]))
    return {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1", "PYTHONPATH": path}


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


LAUNCHER = Path(sys.executable).parent / "accelerate"
needs_launcher = pytest.mark.skipif(shutil.which("accelerate") is None and not LAUNCHER.exists(),
                                    reason="accelerate's launcher is not installed")


def _launch(port: int, args: list[str], tmp_path: Path) -> subprocess.CompletedProcess:
    """Two processes. accelerate's own --cpu flag starts one process unless MPI is set up; --multi_gpu goes
    through torchrun, and on a machine without GPUs finegrain's Accelerator(cpu=True) then uses gloo."""
    return _run([str(LAUNCHER), "launch", "--multi_gpu", "--num_processes", "2", "--num_machines", "1",
                 "--mixed_precision", "no", "--main_process_port", str(port), *args], tmp_path)


@needs_launcher
def test_two_cpu_processes_train_equivalently(tmp_path, tiny_model_dir, sentiment_files):
    script = tmp_path / "train.py"
    script.write_text(SCRIPT)
    single = _config(tmp_path, tiny_model_dir, sentiment_files, "single", precision="fp32", checkpoint_every=None)
    double = _config(tmp_path, tiny_model_dir, sentiment_files, "double", precision="fp32", checkpoint_every=None)
    one = _run([sys.executable, str(script), str(single)], tmp_path)
    assert one.returncode == 0, one.stderr[-3000:]
    two = _launch(29533, [str(script), str(double)], tmp_path)
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
    # The best model was saved from the weights every process gathered: reloaded in one process, it scores
    # what the run recorded at its best evaluation and in metrics.json (both computed in 2 processes).
    double_metrics = json.loads(json.dumps(finegrain.evaluate(tmp_path / "double")))
    assert double_metrics["validation"] == b["validation"] and double_metrics["test"] == b["test"]
    assert info["best_metric"] == b["validation"]["macro_f1"]


@needs_launcher
@pytest.mark.usefixtures("one_thread")  # the subprocesses run on one thread each (OMP_NUM_THREADS=1)
def test_two_processes_each_evaluate_their_share_and_agree_with_one(tmp_path, tiny_model_dir, sentiment_files):
    data = {"classification": {"train": sentiment_files["train"],  # 35 examples: shares of 19 and 16 (batches of 4)
                               "validation": write_csv(tmp_path / "validation.csv", make_sentiment_rows(35, seed=4))},
            "ner": {"train": write_conll(tmp_path / "train.conll", 20, 1),
                    "validation": write_conll(tmp_path / "validation.conll", 33, 2)}}
    configs = [str(_config(tmp_path, tiny_model_dir, files, task, task=task, eval_batch_size=4))
               for task, files in data.items()]
    out = tmp_path / "scores"
    out.mkdir()
    script = Path(__file__).with_name("sharded_evaluation.py")
    two = _launch(29534, [str(script), str(out), *configs], tmp_path)
    assert two.returncode == 0, two.stderr[-3000:]
    for task, config in zip(data, configs, strict=True):
        one = json.loads(json.dumps(score(config)))  # one process, through the same path
        ranks = [json.loads((out / f"{task}-rank{rank}.json").read_text()) for rank in range(2)]
        assert one["scored"] == one["examples"] and one["examples"] in (33, 35)
        sizes = [min(4, one["examples"] - start) for start in range(0, one["examples"], 4)]
        assert [r["scored"] for r in ranks] == [sum(sizes[0::2]), sum(sizes[1::2])], task  # batches dealt in turn
        assert [r["forwards"] for r in ranks] == [len(sizes[0::2]), len(sizes[1::2])], task
        for rank in ranks:
            assert rank["processes"] == 2
            assert rank["metrics"] == one["metrics"], task
            for ours, reference in zip(rank["logits"], one["logits"], strict=True):
                np.testing.assert_allclose(ours, reference, rtol=0, atol=1e-6)
