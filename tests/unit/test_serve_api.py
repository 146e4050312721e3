"""The REST service: predictions for every task, bad input answered (never fatal), metrics, micro-batching."""

from __future__ import annotations

import asyncio
import time

import httpx
import pytest
from fastapi.testclient import TestClient

from finegrain.serving.app import ServeSettings, create_app
from finegrain.serving.batcher import MicroBatcher, ShuttingDown
from finegrain.training.predictor import load_predictor
from serving_runs import train_tiny

pytestmark = pytest.mark.usefixtures("one_thread")

KEY = {"X-API-Key": "s3cret"}


@pytest.fixture(scope="module")
def predictors(tmp_path_factory, tiny_model_dir, sentiment_files):
    made = {}
    for kind in ("classification", "ner"):
        run = train_tiny(tmp_path_factory, tiny_model_dir, sentiment_files, kind=kind)
        made[kind] = load_predictor(run, "cpu")
    return made


@pytest.fixture(scope="module")
def client(predictors):
    settings = ServeSettings(max_texts=4, max_chars=50, api_key="s3cret", max_wait_ms=2)
    with TestClient(create_app(predictors["classification"], settings, source="tiny")) as test_client:
        yield test_client


def test_classification_predictions_match_the_predictor(client, predictors):
    texts = ["good great movie", "awful sad day"]
    response = client.post("/v1/predict", json={"texts": texts}, headers=KEY)
    assert response.status_code == 200
    body = response.json()
    assert body["task"] == "classification"
    assert body["predictions"] == predictors["classification"].predict(texts)


def test_ner_answers_entity_spans_of_the_raw_text(predictors):
    text = "the movie was good and the food awful"
    with TestClient(create_app(predictors["ner"])) as ner:
        prediction = ner.post("/v1/predict", json={"texts": [text]}).json()["predictions"][0]
    assert prediction == {"entities": predictors["ner"].predict([text])[0]["entities"]}
    assert {(text[e["start"]:e["end"]], e["type"]) for e in prediction["entities"]} >= {("good", "POS"),
                                                                                         ("awful", "NEG")}


def test_info_declares_what_the_page_shows_for_each_task(predictors):
    """The page reads only generic fields: the task's description and the names it lists (its legend)."""
    with TestClient(create_app(predictors["classification"])) as classification:
        info = classification.get("/v1/info").json()
    assert info["description"] == "single-label classification" and info["multi_label"] is False
    assert info["legend"] == {"title": "labels", "names": ["neg", "neu", "pos"]}
    with TestClient(create_app(predictors["ner"])) as ner:
        info = ner.get("/v1/info").json()
    assert info["description"] == "named-entity recognition" and "multi_label" not in info
    assert info["legend"]["title"] == "entity types" and sorted(info["legend"]["names"]) == ["NEG", "POS"]


@pytest.mark.parametrize(("kwargs", "status", "message"), [
    ({"content": b'{"texts": ["a"', "headers": {"content-type": "application/json"}}, 400, "not valid JSON"),
    ({"content": b'{"texts": ["a"]}', "headers": {"content-type": "text/plain"}}, 415, "Content-Type: application/json"),
    ({"content": b'{"texts": ["caf\xe9"]}', "headers": {"content-type": "application/json"}}, 400,
     "not valid UTF-8: byte 0xe9 at byte offset 15"),
    ({"json": {"texts": "good"}}, 422, "texts: Input should be a valid list"),
    ({"json": {"texts": ["good", 3]}}, 422, "texts.1: Input should be a valid string"),
    ({"json": ["good"]}, 422, 'expected a JSON object like {"texts"'),
    ({"json": {"text": ["good"]}}, 422, "texts: Field required"),
    ({"json": {"texts": []}}, 422, "texts is empty"),
    ({"json": {"texts": ["good", "  "]}}, 422, "texts[1] is empty"),
    ({"json": {"texts": ["good"] * 5}}, 413, "5 texts in one request; the limit is 4 texts per request"),
    ({"json": {"texts": ["good", "a" * 51]}}, 413, "texts[1] has 51 characters; the limit is 50 characters per text"),
    ({"content": b'{"texts": ["' + b"a" * 5000 + b'"]}', "headers": {"content-type": "application/json"}}, 413,
     "the limits are 4 texts per request and 50 characters per text"),
])
def test_bad_requests_say_what_to_fix_and_the_server_keeps_serving(client, kwargs, status, message):
    kwargs["headers"] = {**kwargs.get("headers", {}), **KEY}
    response = client.post("/v1/predict", **kwargs)
    assert response.status_code == status, response.text
    assert message in response.json()["error"]
    assert client.post("/v1/predict", json={"texts": ["good"]}, headers=KEY).status_code == 200


@pytest.mark.parametrize(("headers", "message"), [({}, "missing API key"), ({"X-API-Key": "nope"}, "wrong API key"),
                                                   ({"Authorization": "Bearer nope"}, "wrong API key")])
def test_api_key_is_required(client, headers, message):
    response = client.post("/v1/predict", json={"texts": ["good"]}, headers=headers)
    assert response.status_code == 401 and message in response.json()["error"]
    assert response.headers["www-authenticate"] == "Bearer"
    bearer = client.post("/v1/predict", json={"texts": ["good"]}, headers={"Authorization": "Bearer s3cret"})
    assert bearer.status_code == 200


def test_health_ready_info_docs_and_metrics(client):
    assert client.get("/health").json() == {"status": "ok"}
    assert client.get("/ready").json() == {"ready": True}
    info = client.get("/v1/info").json()
    assert info["labels"] == ["neg", "neu", "pos"] and info["max_texts"] == 4 and "api_key" not in info
    assert "/v1/predict" in client.get("/openapi.json").json()["paths"]
    assert client.get("/nowhere").json() == {"error": "Not Found"}  # the framework's refusals too
    client.post("/v1/predict", json={"texts": ["good", "bad", "table"]}, headers=KEY)
    client.post("/v1/predict", json={"texts": []}, headers=KEY)
    response = client.get("/metrics")
    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
    text = response.text
    assert 'finegrain_requests_total{method="POST",path="/v1/predict",status="200"}' in text
    assert 'finegrain_requests_total{method="POST",path="/v1/predict",status="422"}' in text
    assert "# TYPE finegrain_request_latency_seconds histogram" in text
    count = float(next(line.split()[-1] for line in text.splitlines() if line.startswith("finegrain_batch_size_count")))
    inf = float(next(line.split()[-1] for line in text.splitlines() if line.startswith('finegrain_batch_size_bucket{le="+Inf"}')))
    assert count == inf > 0


def test_concurrent_requests_are_served_in_shared_batches(predictors):
    app = create_app(predictors["classification"], ServeSettings(max_batch=32, max_wait_ms=200))
    texts = [f"good movie {i}" for i in range(12)]

    async def scenario():
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://serve") as http:
                responses = await asyncio.gather(*(http.post("/v1/predict", json={"texts": [t]}) for t in texts))
                metrics = (await http.get("/metrics")).text
        return responses, metrics

    responses, metrics = asyncio.run(scenario())
    assert all(r.status_code == 200 for r in responses)
    assert [r.json()["predictions"][0] for r in responses] == predictors["classification"].predict(texts)
    batches = float(next(line.split()[-1] for line in metrics.splitlines() if line.startswith("finegrain_batch_size_count")))
    assert batches < len(texts) / 2, f"{len(texts)} concurrent requests took {batches} model calls"


def test_a_micro_batch_runs_in_forward_batches_of_the_set_size(predictors, monkeypatch):
    predictor = predictors["classification"]
    sizes = []
    predict = predictor.predict

    def spy(texts, batch_size=64):
        sizes.append(batch_size)
        return predict(texts, batch_size=batch_size)

    monkeypatch.setattr(predictor, "predict", spy)
    app = create_app(predictor, ServeSettings(forward_batch=3))
    with TestClient(app) as client:
        assert client.post("/v1/predict", json={"texts": ["good", "bad"]}).status_code == 200
        assert client.get("/v1/info").json()["forward_batch"] == 3
    assert sizes == [3]


def test_batcher_isolates_a_failing_text_and_finishes_queued_work_on_stop():
    calls = []

    def predict(texts):
        calls.append(list(texts))
        if "boom" in texts:
            raise ValueError("boom is not a text")
        time.sleep(0.01)
        return [{"label": t.upper()} for t in texts]

    async def scenario():
        batcher = MicroBatcher(predict, max_batch=8, max_wait_ms=50)
        await batcher.start()
        good = asyncio.create_task(batcher.submit(["a", "b"]))
        bad = asyncio.create_task(batcher.submit(["boom"]))
        late = asyncio.create_task(batcher.submit(["c"]))
        await asyncio.sleep(0)  # all three queued before stop
        await batcher.stop()
        results = await asyncio.gather(good, bad, late, return_exceptions=True)
        with pytest.raises(ShuttingDown):
            await batcher.submit(["d"])
        return results

    good, bad, late = asyncio.run(scenario())
    assert good == [{"label": "A"}, {"label": "B"}] and late == [{"label": "C"}]
    assert isinstance(bad, ValueError)
    assert calls[0] == ["a", "b", "boom", "c"], "the three requests were one batch first"


def test_the_command_line_serves_with_the_settings_defaults_and_passes_each_option(monkeypatch):
    from finegrain.cli.main import build_parser
    from finegrain.cli.serve import _settings

    monkeypatch.delenv("FINEGRAIN_API_KEY", raising=False)
    parser = build_parser()
    assert ServeSettings(**_settings(parser.parse_args(["serve", "runs/x"]))) == ServeSettings()
    given = parser.parse_args(["serve", "runs/x", "--max-batch", "8", "--max-wait-ms", "1.5", "--forward-batch", "4",
                               "--max-texts", "9", "--max-chars", "99", "--api-key", "k"])
    assert ServeSettings(**_settings(given)) == ServeSettings(max_batch=8, max_wait_ms=1.5, forward_batch=4,
                                                              api_key="k", max_texts=9, max_chars=99)
