"""``POST /v1/explain``: the task's own request (texts, pairs) plus ``method`` and ``target``, answered with
per-word attributions (:mod:`finegrain.explain`), computed on the model's thread between prediction batches.

Example:
    curl -s localhost:8000/v1/explain -H 'Content-Type: application/json' \\
         -d '{"texts": ["a great film"], "method": "occlusion"}'
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import FastAPI
from fastapi.responses import JSONResponse
from pydantic import BaseModel, StrictStr, create_model
from starlette.exceptions import HTTPException

from finegrain.errors import FinegrainError
from finegrain.explain import explain, usable_explainers
from finegrain.serving.batcher import MicroBatcher, ShuttingDown
from finegrain.training.predictor import Predictor

__all__ = ["add_explain", "explainers_info", "ExplainedWords", "WordScores"]


class WordScores(BaseModel):
    """One target's score per word (positive: toward it); ``span``: an entity's words [start, end)."""
    target: str
    name: str
    scores: list[float]
    span: list[int] | None = None
    delta: float | None = None


class ExplainedWords(BaseModel):
    """One input's explanation: its words, their [start, end) in the text named by ``fields``, and the scores."""
    words: list[str]
    offsets: list[list[int] | None]
    fields: list[str]
    explainer: str
    targets: list[WordScores]
    seconds: float
    windows: int
    notes: list[str]


def _public(explanation: dict[str, Any]) -> dict[str, Any]:
    """The fields of the answer schema only (the input is the client's own)."""
    shown = {key: value for key, value in explanation.items() if key in ExplainedWords.model_fields}
    shown["targets"] = [{key: value for key, value in target.items() if key in WordScores.model_fields}
                        for target in shown["targets"]]
    return shown


def explainers_info(predictor: Predictor) -> dict[str, Any]:
    """The ``/v1/info`` fields the web page reads: the explainers this run can use, the first its default."""
    usable = usable_explainers(predictor)
    preferred = "integrated-gradients" if "integrated-gradients" in usable else usable[0]
    return {"explainers": [preferred] + [name for name in usable if name != preferred]}


def add_explain(app: FastAPI, predictor: Predictor, batcher: MicroBatcher, auth: Any,
                check: Callable[[list[Any]], None]) -> None:
    """``POST /v1/explain`` in the task's request schema plus ``method``/``target``; ``check`` applies the
    service's limits to the inputs, as for ``/v1/predict``."""
    payload = predictor.task.serving
    default = explainers_info(predictor)["explainers"][0]
    request = create_model("ExplainRequest", __base__=payload.request, method=(StrictStr, default),
                           target=(StrictStr | None, None))
    answer = create_model("ExplainResponse", task=(str, ...), explanations=(list[ExplainedWords], ...))

    async def explained(body: BaseModel) -> JSONResponse:
        inputs = getattr(body, payload.items)
        check(inputs)
        try:
            explanations = await batcher.run_alone(lambda: explain(predictor, inputs, body.method, body.target))
        except ShuttingDown as error:
            raise HTTPException(503, str(error)) from None
        except FinegrainError as error:  # named as the request's fields, not as the command line's options
            error.where = error.where.lstrip("-") if error.where else error.where
            raise
        shown = [_public(e.to_dict()) for e in explanations]
        return JSONResponse({"task": predictor.task.name, "explanations": shown})

    explained.__annotations__["body"] = request
    app.post("/v1/explain", dependencies=[auth], summary="per-word attributions of the predictions of a list of inputs",
             response_model=answer)(explained)
