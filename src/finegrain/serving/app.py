"""The REST service: ``POST /v1/predict`` over a micro-batcher, health, readiness, metrics and a web page.

Built by :func:`create_app` around any :class:`~finegrain.training.predictor.Predictor` (a run, a
merged export, ONNX). The request and answer are the task's (its ``serving`` payload: classification
answers labels and scores, NER entity spans with character offsets), validated and documented in
OpenAPI from its schemas. Every bad request gets a JSON ``{"error": ...}`` saying what to change: malformed JSON or
a body that is not UTF-8 (400), another content type (415), wrong types or empty input (422), too
many texts or characters (413, with the limits), a missing or wrong API key (401), an unknown path
(404). fastapi is imported only here.

Example:
    >>> import uvicorn  # doctest: +SKIP
    >>> uvicorn.run(create_app(finegrain.load("runs/bbc"), ServeSettings(api_key="s3cret")))  # doctest: +SKIP
"""

from __future__ import annotations

import logging
import secrets
import time
from contextlib import asynccontextmanager
from dataclasses import asdict
from functools import partial
from importlib import resources
from typing import Any

from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, Response
from pydantic import BaseModel, create_model
from starlette.exceptions import HTTPException

from finegrain.errors import FinegrainError
from finegrain.serving.batcher import MicroBatcher, ShuttingDown
from finegrain.serving.explaining import add_explain, explainers_info
from finegrain.serving.metrics import CONTENT_TYPE, ServiceMetrics
from finegrain.serving.settings import ServeSettings
from finegrain.tasks.outputs import ServingPayload
from finegrain.training.predictor import Predictor

__all__ = ["create_app", "ServeSettings", "ApiError"]

LOGGER = logging.getLogger("finegrain.serve")
_PATHS = ("/", "/health", "/ready", "/metrics", "/v1/info", "/v1/predict", "/v1/explain", "/docs", "/openapi.json")
_LIMITED = ("/v1/predict", "/v1/explain")  # the paths whose body size is checked before it is read


class ApiError(Exception):
    """An error answered as ``{"error": message}`` with an HTTP status."""

    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None):
        super().__init__(message)
        self.status, self.message, self.headers = status, message, headers


def _response_model(payload: ServingPayload) -> type[BaseModel]:
    """The documented answer (OpenAPI): the task's name and one prediction per input, in the task's schema."""
    return create_model("PredictResponse", task=(str, ...), predictions=(list[payload.prediction], ...))


def create_app(predictor: Predictor, settings: ServeSettings = ServeSettings(), source: str = "",
               metrics_folder: str | None = None) -> FastAPI:
    """The FastAPI app serving ``predictor``; ``source`` (the run or export path) is shown in /v1/info.

    ``metrics_folder``: the PROMETHEUS_MULTIPROC_DIR of a server with several worker processes, whose
    /metrics then sums them all (``finegrain serve --workers N`` sets it); None for one process.
    """
    predict = partial(predictor.predict, batch_size=settings.forward_batch)
    batcher = MicroBatcher(predict, max_batch=settings.max_batch, max_wait_ms=settings.max_wait_ms)
    metrics = ServiceMetrics(queued=batcher.queued, folder=metrics_folder)
    batcher.on_batch = metrics.batch

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        await batcher.start()
        yield
        await batcher.stop()  # uvicorn has let in-flight requests finish; this serves what they queued

    app = FastAPI(title="finegrain", version="1", lifespan=lifespan,
                  description=f"Predictions of a finegrain {predictor.task.name} model ({source or 'in memory'}).")
    payload: ServingPayload = predictor.task.serving
    _add_handlers(app, settings, metrics, payload.example)
    info = _info(predictor, settings, source)
    page = resources.files("finegrain.serving").joinpath("page.html").read_text(encoding="utf-8")
    auth = _api_key_check(settings.api_key)

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    async def index() -> HTMLResponse:
        return HTMLResponse(page)

    @app.get("/health", summary="the process is up")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/ready", summary="the model is loaded and requests are taken")
    async def ready() -> JSONResponse:
        up = batcher.running
        return JSONResponse({"ready": up}, status_code=200 if up else 503)

    @app.get("/metrics", summary="Prometheus metrics (text format)")
    async def prometheus() -> Response:
        return Response(metrics.render(), media_type=CONTENT_TYPE)

    @app.get("/v1/info", summary="the task, labels and limits of this service")
    async def describe() -> dict[str, Any]:
        return info

    _add_predict(app, predictor.task.name, payload, batcher, settings, Depends(auth))
    add_explain(app, predictor, batcher, Depends(auth), partial(_check_inputs, payload=payload, settings=settings))
    return app


def _add_predict(app: FastAPI, task: str, payload: ServingPayload, batcher: MicroBatcher, settings: ServeSettings,
                 auth: Any) -> None:
    """``POST /v1/predict`` in the task's request and answer schemas (validated and in OpenAPI)."""

    async def predict(body: BaseModel) -> JSONResponse:
        inputs = getattr(body, payload.items)  # the request field the task names as its list of inputs
        _check_inputs(inputs, payload, settings)
        try:
            predictions = await batcher.submit(inputs)
        except ShuttingDown as error:
            raise ApiError(503, str(error)) from None
        # answered as is: the predictions are plain JSON already (FastAPI's re-encoding costs requests/s)
        return JSONResponse({"task": task, "predictions": [payload.public(p) for p in predictions]})

    predict.__annotations__["body"] = payload.request  # the body FastAPI reads is the task's schema
    app.post("/v1/predict", dependencies=[auth], summary="predict a list of inputs",
             response_model=_response_model(payload))(predict)


def _add_handlers(app: FastAPI, settings: ServeSettings, metrics: ServiceMetrics, example: str) -> None:
    app.add_middleware(_Measure, settings=settings, metrics=metrics)

    @app.exception_handler(ApiError)
    async def api_error(request: Request, error: ApiError) -> JSONResponse:
        return JSONResponse({"error": error.message}, status_code=error.status, headers=error.headers)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, error: RequestValidationError) -> JSONResponse:
        if "json" not in request.headers.get("content-type", "json"):
            return JSONResponse({"error": f"the request body must be JSON, sent with Content-Type: application/json"
                                 f" (got {request.headers['content-type']})."}, status_code=415)
        return _validation_response(error.errors(), example)

    @app.exception_handler(HTTPException)
    async def refused(request: Request, error: HTTPException) -> JSONResponse:
        return JSONResponse({"error": _refusal(error)}, status_code=error.status_code, headers=error.headers)

    @app.exception_handler(FinegrainError)
    async def data_error(request: Request, error: FinegrainError) -> JSONResponse:
        return JSONResponse({"error": error.render()}, status_code=422)

    @app.exception_handler(Exception)
    async def bug(request: Request, error: Exception) -> JSONResponse:
        LOGGER.exception("finegrain serve: unexpected error on %s", request.url.path)
        return JSONResponse({"error": f"internal error ({type(error).__name__}); the server log has the details"},
                            status_code=500)


class _Measure:
    """Pure ASGI middleware: a 413 from the Content-Length alone (before a huge body is read), and the
    request count and latency of every answer in the metrics. (Starlette's ``BaseHTTPMiddleware`` costs a
    task and a stream per request, which shows in requests/s.)"""

    def __init__(self, app: Any, settings: ServeSettings, metrics: ServiceMetrics):
        self.app, self.settings, self.metrics = app, settings, metrics

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started, status = time.perf_counter(), 500

        async def send_status(message: dict) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            too_large = _too_large(scope, self.settings)
            await (too_large or self.app)(scope, receive, send_status)
        finally:
            path = scope["path"] if scope["path"] in _PATHS else "other"
            self.metrics.request(scope["method"], path, status, time.perf_counter() - started)


def _too_large(scope: dict, settings: ServeSettings) -> JSONResponse | None:
    """413 from the Content-Length alone, before a huge body is read and parsed."""
    if scope["path"] not in _LIMITED:
        return None
    length = next((value.decode("latin-1") for name, value in scope["headers"] if name == b"content-length"), "")
    if length.isdigit() and int(length) > settings.max_body_bytes():
        return JSONResponse({"error": f"request body of {int(length)} bytes is too large: the limits are"
                             f" {settings.max_texts} texts per request and {settings.max_chars} characters per"
                             f" text (at most {settings.max_body_bytes()} bytes)."}, status_code=413)
    return None


def _validation_response(errors: list[dict[str, Any]], example: str) -> JSONResponse:
    """400 for a body that is not JSON, 422 for JSON of the wrong shape; both say what was expected."""
    expected = f"expected a JSON object like {example}"
    if any(e.get("type") == "json_invalid" for e in errors):
        reason = next(e for e in errors if e.get("type") == "json_invalid").get("ctx", {}).get("error", "")
        return JSONResponse({"error": f"the request body is not valid JSON ({reason}); {expected}."}, status_code=400)
    problems = [f"{'.'.join(str(p) for p in e.get('loc', ())[1:]) or 'body'}: {e.get('msg')}" for e in errors]
    return JSONResponse({"error": f"{'; '.join(problems)} ({expected})", "detail": [
        {"loc": list(e.get("loc", ())), "msg": e.get("msg"), "type": e.get("type")} for e in errors]},
        status_code=422)


def _refusal(error: HTTPException) -> str:
    """The framework's own refusals (a body it cannot read, 404, 405) in the service's words."""
    cause = error.__cause__  # FastAPI raises its 400 "error parsing the body" from the decoding error
    if isinstance(cause, UnicodeDecodeError):
        return (f"the request body is not valid UTF-8: byte 0x{cause.object[cause.start]:02x} at byte offset"
                f" {cause.start} ({cause.reason}); send the JSON encoded as UTF-8.")
    return str(error.detail)


def _check_inputs(inputs: list[Any], payload: ServingPayload, settings: ServeSettings) -> None:
    """The limits, for any task's inputs: how many, and the characters of the text each one holds."""
    field = payload.items
    if not inputs:
        raise ApiError(422, f"{field} is empty: send at least one input, e.g. {payload.example}.")
    if len(inputs) > settings.max_texts:
        raise ApiError(413, f"{len(inputs)} {field} in one request; the limit is {settings.max_texts} {field} per"
                            f" request (and {settings.max_chars} characters per text): split the request.")
    for index, value in enumerate(inputs):
        strings = _strings(value)
        characters = sum(len(text) for text in strings)
        if characters > settings.max_chars:
            raise ApiError(413, f"{field}[{index}] has {characters} characters; the limit is {settings.max_chars}"
                                f" characters per text (and {settings.max_texts} {field} per request): shorten it.")
        if not any(text.strip() for text in strings):
            raise ApiError(422, f"{field}[{index}] is empty: every input needs at least one non-space character.")


def _strings(value: Any) -> list[str]:
    """The strings an input holds: itself, or those inside its lists and objects (a pair, a token list)."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, BaseModel):
        value = value.model_dump()
    items = value.values() if isinstance(value, dict) else value if isinstance(value, (list, tuple)) else ()
    return [text for item in items for text in _strings(item)]


def _api_key_check(api_key: str | None):
    async def check(request: Request) -> None:
        if api_key is None:
            return
        given = request.headers.get("x-api-key")
        bearer = request.headers.get("authorization", "")
        if given is None and bearer.lower().startswith("bearer "):
            given = bearer[7:].strip()
        if given is None:
            raise ApiError(401, "missing API key: send it in the X-API-Key header (or Authorization: Bearer KEY).",
                           {"WWW-Authenticate": "Bearer"})
        if not secrets.compare_digest(given.encode(), api_key.encode()):
            raise ApiError(401, "wrong API key.", {"WWW-Authenticate": "Bearer"})

    return check


def _info(predictor: Predictor, settings: ServeSettings, source: str) -> dict[str, Any]:
    payload: ServingPayload = predictor.task.serving
    labels = list(predictor.labels.names)
    title, names = payload.legend(labels)
    return {"task": predictor.task.name, "description": predictor.task.description, "labels": labels,
            "source": source, "view": payload.view, "legend": {"title": title, "names": names},
            "items": payload.items, "fields": list(payload.fields), **explainers_info(predictor),
            **payload.info(predictor.task),
            "backend": predictor.runtime,
            "api_key_required": settings.api_key is not None,
            **{k: v for k, v in asdict(settings).items() if k != "api_key"}}
