"""The web page in headless Chromium against a live server (loopback), and graceful shutdown.

Set FINEGRAIN_SCREENSHOTS=DIR to also save what the page looks like.
"""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import threading
import time
import urllib.parse
import urllib.request
from pathlib import Path

import pytest
import uvicorn

from conftest import chromium_args
from finegrain.cli.main import main
from finegrain.serving.app import ServeSettings, create_app
from finegrain.training.predictor import load_predictor
from serving_runs import train_tiny

pytestmark = pytest.mark.usefixtures("one_thread")

_SERVERS: dict[str, uvicorn.Server] = {}
SCREENSHOTS = Path(os.environ.get("FINEGRAIN_SCREENSHOTS", "")) if os.environ.get("FINEGRAIN_SCREENSHOTS") else None


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def serve(tmp_path_factory, tiny_model_dir, sentiment_files):
    """Start a live server (a uvicorn thread on loopback) for a tiny run of ``kind``; return (url, predictor)."""
    servers = []

    def start(kind: str, steps: int = 60, **settings):
        predictor = load_predictor(train_tiny(tmp_path_factory, tiny_model_dir, sentiment_files, kind=kind,
                                              steps=steps), "cpu")
        port = _free_port()
        server = uvicorn.Server(uvicorn.Config(create_app(predictor, ServeSettings(**settings)), host="127.0.0.1",
                                               port=port, log_level="warning"))
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        servers.append((server, thread))
        deadline = time.monotonic() + 30
        while not server.started and time.monotonic() < deadline:
            time.sleep(0.05)
        assert server.started, "the test server did not start"
        _SERVERS[f"http://127.0.0.1:{port}"] = server
        return f"http://127.0.0.1:{port}", predictor

    yield start
    for server, thread in servers:
        server.should_exit = True
        thread.join(timeout=10)


def _page(chromium: str, url: str, text: str, tmp_path: Path, name: str, **more: str) -> str:
    """The DOM after the page has predicted ``text`` (given as ?text=, and ``more`` boxes by their field, e.g.
    text_pair); a screenshot when asked for."""
    address = f"{url}/?{urllib.parse.urlencode({'text': text, **more})}"
    extra = ["--virtual-time-budget=15000", "--window-size=900,640", f"--user-data-dir={tmp_path / name}"]
    dom = subprocess.run([*chromium_args(chromium, *extra), "--dump-dom", address], capture_output=True, text=True,
                         timeout=90, check=True).stdout
    if SCREENSHOTS is not None:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        subprocess.run([*chromium_args(chromium, *extra), f"--screenshot={SCREENSHOTS / name}.png", address],
                       capture_output=True, timeout=90, check=True)
    return dom


def test_page_shows_the_predicted_label(chromium, serve, tmp_path):
    url, predictor = serve("classification")
    text = "awful sad day , bad movie"
    want = predictor.predict([text])[0]
    dom = _page(chromium, url, text, tmp_path, "classification")
    assert 'id="result" data-state="done"' in dom
    assert f'<div class="top" id="label">{want["label"]}</div>' in dom
    percent = f'{100 * want["scores"][want["label"]]:.1f}%'
    assert f'<span class="chosen">{want["label"]}</span>' in dom and percent in dom
    # under the prediction, its words shaded by integrated gradients toward the predicted label
    assert f'<div class="why">Why {want["label"]} (integrated-gradients):</div>' in dom
    words = re.findall(r'<span title="-?\d\.\d{4}" style="background: rgba?\([^"]+\);">([^<]+)</span>', dom)
    assert words == ["awful", "sad", "day", ",", "bad", "movie"]


def test_page_sends_both_texts_of_a_pair(chromium, serve, tmp_path):
    url, predictor = serve("pair")
    pair = ("the good movie", "a good day")
    want = predictor.predict([pair])[0]
    dom = _page(chromium, url, pair[0], tmp_path, "pair", text_pair=pair[1])
    assert 'id="result" data-state="done"' in dom and '<textarea id="text_pair"' in dom
    assert f'<div class="top" id="label">{want["label"]}</div>' in dom
    assert f'{100 * want["scores"][want["label"]]:.1f}%' in dom
    assert len(re.findall(r'<span title="-?\d\.\d{4}"', dom)) == 6  # the words of both texts, shaded


def test_page_highlights_entities(chromium, serve, tmp_path):
    url, predictor = serve("ner")
    text = "the movie was good and the food awful"
    entities = predictor.predict([text])[0]["entities"]
    assert {e["text"] for e in entities} >= {"good", "awful"}
    dom = _page(chromium, url, text, tmp_path, "ner")
    for entity in entities:
        mark = f'<mark [^>]*data-type="{entity["type"]}"[^>]*>{re.escape(entity["text"])}<small>{entity["type"]}</small>'
        assert re.search(mark, dom), f"no highlighted {entity} in the page"
    assert f'{len(entities)} entities' in dom
    for entity in entities:  # each entity explained on its own line
        assert f'Why {entity["type"]} \'{entity["text"]}\' (integrated-gradients):' in dom.replace("&#39;", "'")


@pytest.mark.parametrize("kind, text", [("spelling", "thegoadfood"), ("spelling-words", "Teh goad food is so nice"),
                                        ("grammar", "She go to school every days .")])
def test_page_marks_each_spelling_correction(chromium, serve, tmp_path, kind, text):
    """Characters (Chinese), words of any length (English, the word level) or grammar edits (insertions too)
    replaced in place."""
    url, predictor = serve(kind, steps=2)  # barely trained, threshold 0: it proposes changes to show
    prediction = predictor.predict([text])[0]
    assert prediction["edits"], "the tiny model proposed no change at threshold 0"
    dom = _page(chromium, url, text, tmp_path, kind)
    for edit in prediction["edits"]:
        mark = (f'<mark [^>]*data-original="{re.escape(edit["original"])}"[^>]*>{re.escape(edit["correction"])}'
                f'<small>{re.escape(edit["original"])}</small>')
        assert re.search(mark, dom), f"no marked {edit} in the page"
    count = len(prediction["edits"])
    assert f'{count} correction{"s" if count > 1 else ""}' in dom
    shown = re.sub(r"<small>.*?</small>", "", re.search(r'<div[^>]*id="edits"[^>]*>(.*?)</div>', dom).group(1))
    assert re.sub(r"<[^>]+>", "", shown) == prediction["corrected"]  # the corrected text, nothing lost or doubled


def test_shutdown_finishes_the_request_in_flight(serve):
    url, _ = serve("classification", max_wait_ms=1500)
    server = _SERVERS[url]
    answer = {}
    request = urllib.request.Request(f"{url}/v1/predict", data=b'{"texts": ["good movie"]}',
                                     headers={"Content-Type": "application/json"})

    def call():
        with urllib.request.urlopen(request, timeout=30) as response:
            answer["status"], answer["body"] = response.status, json.loads(response.read())

    client = threading.Thread(target=call)
    client.start()
    time.sleep(0.5)  # the request now waits in its 1.5 s batch window
    server.should_exit = True  # what uvicorn's SIGTERM / Ctrl-C handler does
    client.join(timeout=30)
    assert answer.get("status") == 200
    assert answer["body"]["predictions"][0]["label"] in ("neg", "neu", "pos")
    with pytest.raises(OSError):  # and then it is gone
        urllib.request.urlopen(f"{url}/health", timeout=5)


def test_serve_cli_checks_its_options(capsys, tmp_path):
    assert main(["serve", str(tmp_path), "--max-batch", "0"]) == 2
    assert "--max-batch must be at least 1 (got 0)" in capsys.readouterr().err
    assert main(["serve", str(tmp_path)]) == 2
    assert "neither a finegrain run nor an export" in capsys.readouterr().err
