"""``finegrain serve`` as a command: a port in use refused before the model loads, and /metrics that
counts the requests of every worker under ``--workers 2`` (a real server in a subprocess, on loopback)."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from finegrain.cli.main import main
from serving_runs import train_tiny

pytestmark = pytest.mark.usefixtures("one_thread")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.mark.parametrize("workers", ["1", "2"])
def test_a_port_in_use_is_refused_before_the_model_loads(tmp_path, capsys, monkeypatch, workers):
    run = tmp_path / "run"
    run.mkdir()
    (run / "config.yaml").write_text("task: classification\n", encoding="utf-8")

    def load(path):
        raise AssertionError("the model was loaded although the port is taken")

    monkeypatch.setattr("finegrain.serving.export.open_predictor", load)
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        assert main(["serve", str(run), "--port", str(port), "--workers", workers]) == 2
    error = capsys.readouterr().err
    assert f"127.0.0.1:{port} is already in use" in error
    assert "another --port" in error and "stop the process" in error
    assert "PROMETHEUS_MULTIPROC_DIR" not in os.environ


def test_a_scrape_forgets_the_queue_depth_of_dead_workers(tmp_path):
    from finegrain.serving.metrics import forget_dead_workers

    gone = 2**22 + 1  # above Linux's largest pid: no such process
    for name in (f"gauge_livesum_{gone}.db", f"gauge_livesum_{os.getpid()}.db", f"counter_{gone}.db"):
        (tmp_path / name).write_bytes(b"")
    forget_dead_workers(str(tmp_path))
    # its counts stay (the totals keep what it served); only its live gauge goes
    assert sorted(p.name for p in tmp_path.iterdir()) == [f"counter_{gone}.db", f"gauge_livesum_{os.getpid()}.db"]


def _get(url: str, timeout: float = 10) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def _predict(url: str, texts: list[str]) -> int:
    """One request on a connection of its own (urllib does not keep connections alive)."""
    request = urllib.request.Request(f"{url}/v1/predict", data=json.dumps({"texts": texts}).encode(),
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=60) as response:
        assert len(json.loads(response.read())["predictions"]) == len(texts)
        return response.status


def _per_worker(metrics_dir: Path) -> dict[int, float]:
    """Texts predicted by each worker, read from its own prometheus_client file (counter_PID.db)."""
    from prometheus_client.multiprocess import MultiProcessCollector

    served = {}
    for path in metrics_dir.glob("counter_*.db"):
        samples = [s for m in MultiProcessCollector.merge([str(path)]) for s in m.samples]
        served[int(path.stem.split("_")[1])] = sum(s.value for s in samples if s.name == "finegrain_texts_total")
    return served


def _sample(metrics: str, line_start: str) -> float:
    values = [float(line.split()[-1]) for line in metrics.splitlines() if line.startswith(line_start + " ")]
    assert len(values) == 1, f"{line_start} is not one line of\n{metrics}"
    return values[0]


def _wait_for_workers(url: str, server: subprocess.Popen, temp: Path, log: Path) -> Path:
    """The metrics folder once two workers have built their app and one answers /ready."""
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        assert server.poll() is None, f"finegrain serve exited ({server.returncode}):\n{log.read_text()}"
        folders = list(temp.glob("finegrain-metrics-*"))
        if folders and len(list(folders[0].glob("counter_*.db"))) == 2:
            try:
                if _get(f"{url}/ready", timeout=2)[0] == 200:
                    return folders[0]
            except OSError:
                pass
        time.sleep(0.2)
    raise AssertionError(f"two workers did not start within 180 s:\n{log.read_text()}")


def test_metrics_under_two_workers_count_every_request(tmp_path, tmp_path_factory, tiny_model_dir, sentiment_files):
    run = train_tiny(tmp_path_factory, tiny_model_dir, sentiment_files)
    port, temp, log = _free_port(), tmp_path / "tmp", tmp_path / "serve.log"
    temp.mkdir()
    url = f"http://127.0.0.1:{port}"
    env = {**os.environ, "TMPDIR": str(temp), "OMP_NUM_THREADS": "1"}
    with log.open("w") as output:
        server = subprocess.Popen([sys.executable, "-m", "finegrain", "serve", str(run), "--workers", "2",
                                   "--port", str(port), "--max-wait-ms", "1"], env=env, stdout=output,
                                  stderr=subprocess.STDOUT)
    try:
        metrics_dir = _wait_for_workers(url, server, temp, log)
        sent_requests = sent_texts = 0
        with ThreadPoolExecutor(max_workers=12) as pool:
            # waves of concurrent connections until the kernel has handed some to each worker
            while sent_requests < 240 and not (len(served := _per_worker(metrics_dir)) == 2
                                               and min(served.values()) > 0):
                batches = [[f"good movie {sent_requests + i}"] * (1 + i % 3) for i in range(24)]
                assert list(pool.map(lambda texts: _predict(url, texts), batches)) == [200] * len(batches)
                sent_requests += len(batches)
                sent_texts += sum(map(len, batches))
        served = _per_worker(metrics_dir)
        assert len(served) == 2 and min(served.values()) > 0, f"one worker served everything: {served}"
        status, body = _get(f"{url}/metrics")
        metrics = body.decode()
        assert status == 200
        assert _sample(metrics, 'finegrain_requests_total{method="POST",path="/v1/predict",status="200"}') \
            == sent_requests
        assert _sample(metrics, "finegrain_texts_total") == sent_texts == sum(served.values())
        assert _sample(metrics, "finegrain_request_latency_seconds_count") == sent_requests
        assert _sample(metrics, "finegrain_queue_depth") == 0  # one summed series, no pid label
        assert not re.search(r'pid="\d+"', metrics)
    finally:
        server.send_signal(signal.SIGINT)
        code = server.wait(timeout=60)
    assert code == 0, log.read_text()
    assert not list(temp.glob("finegrain-metrics-*")), "the metrics folder outlived the server"
