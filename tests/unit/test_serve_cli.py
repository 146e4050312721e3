"""``finegrain serve`` as a command: a port in use refused before the model loads."""

from __future__ import annotations

import socket

import pytest

from finegrain.cli.main import main


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
