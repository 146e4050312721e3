"""One cell of a study: train a method on one sample, score it on the shared test set, time it.

A cell's folder holds an ordinary run directory (``run/``), ``cell.json`` (status, test metrics,
costs, latency) and ``counts.npy`` (per-example counts for intervals and paired tests). A cell
is finished when ``cell.json`` says so; a killed cell resumes from its run's last checkpoint.
A cell that fails records its error and the study goes on. Cells that ran side by side (the ray
executor) are timed afterwards, one at a time, by ``add_latency``.
"""

from __future__ import annotations

import json
import time
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from finegrain.data.sampling import spread_positions
from finegrain.errors import FinegrainError
from finegrain.study.config import ExplainSection, Size, StudyConfig, Variant, size_label
from finegrain.study.data import StudyData
from finegrain.study.robustness import cell_robustness
from finegrain.training.checkpoint import write_json_atomic
from finegrain.training.predictor import Predictor, load_predictor
from finegrain.training.run_dir import RunDir
from finegrain.training.runner import run_training

__all__ = ["Cell", "run_cell", "read_cell", "record_failure", "needs_latency", "add_latency", "save_counts",
           "CELL_FILE", "COUNTS_FILE"]

CELL_FILE, COUNTS_FILE = "cell.json", "counts.npy"
_LATENCY_TEXTS = 32  # test inputs in the batch-32 timing; half as many batch-1 calls are timed
_KEPT_INFO = ("parameters", "timing", "peak_memory_mb", "model_size_mb", "lr", "steps", "best_step", "precision")


@dataclass(frozen=True)
class Cell:
    variant: Variant
    size: Size
    seed: int

    @property
    def name(self) -> str:
        return f"{self.variant.id} · size {size_label(self.size)} · seed {self.seed}"

    def folder(self, root: Path) -> Path:
        return root / "cells" / self.variant.id / f"size-{size_label(self.size)}" / f"seed-{self.seed}"


def read_cell(folder: Path) -> dict[str, Any] | None:
    """The cell's record, or None when it never finished or failed."""
    path = folder / CELL_FILE
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else None


def run_cell(study: StudyConfig, cell: Cell, root: Path, data: StudyData, latency: bool = True) -> dict[str, Any]:
    """Run (or resume) one cell and write its record; errors are recorded, not raised.

    ``latency=False``: leave the timing to ``add_latency`` (other cells run at the same time).
    """
    folder = cell.folder(root)
    folder.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    base = _base_record(cell, data)
    try:
        record = {**base, **_train_and_score(study, cell, folder, data, latency)}
    except FinegrainError as error:
        record = {**base, "status": "failed", "error": error.render()}
    except Exception as error:  # a crash in one cell must not lose the others: keep what is needed to report it
        record = {**base, "status": "failed", "error": f"{type(error).__name__}: {error}",
                  "traceback": traceback.format_exc(limit=8)}
    record["wall_seconds"] = round(time.perf_counter() - started, 2)
    write_json_atomic(folder / CELL_FILE, record)
    return record


def record_failure(cell: Cell, root: Path, data: StudyData, error: str) -> dict[str, Any]:
    """Write the record of a cell whose worker died before the cell could record anything itself."""
    record = {**_base_record(cell, data), "status": "failed", "error": error}
    write_json_atomic(cell.folder(root) / CELL_FILE, record)
    return record


def needs_latency(study: StudyConfig, cell: Cell, record: dict[str, Any]) -> bool:
    """A finished cell of the first seed is timed (the seed changes the weights, not the cost)."""
    return study.latency and cell.seed == study.seeds[0] and record.get("status") == "finished" \
        and "latency_ms" not in record


def add_latency(cell: Cell, root: Path, data: StudyData) -> dict[str, Any]:
    """Time a finished cell's predictions now and add them to its record."""
    folder = cell.folder(root)
    record = read_cell(folder) or {}
    predictor = load_predictor(folder / "run")
    record["latency_ms"] = _latency(predictor, predictor.task.predict_inputs(data.test)[:_LATENCY_TEXTS])
    write_json_atomic(folder / CELL_FILE, record)
    return record


def _base_record(cell: Cell, data: StudyData) -> dict[str, Any]:
    return {"method": cell.variant.id, "method_name": cell.variant.method["name"], "size": size_label(cell.size),
            "seed": cell.seed, "train_examples": data.train_examples(cell.seed, cell.size)}


def _train_and_score(study: StudyConfig, cell: Cell, folder: Path, data: StudyData,
                     latency: bool) -> dict[str, Any]:
    train_file, validation_file = data.files(cell.seed, cell.size)
    run = RunDir(folder / "run")
    config = study.run_config(cell.variant, train_file=train_file, validation_file=validation_file, seed=cell.seed,
                              output=str(run.path))
    run_training(config, resume=run.is_run(), overwrite=run.path.exists() and not run.is_run())
    predictor = load_predictor(run.path)
    features, logits = predictor.logits(data.test, batch_size=config.train.eval_batch_size)
    task, labels = predictor.task, predictor.labels
    metrics = task.evaluate(data.test, features, logits, labels)
    save_counts(folder / COUNTS_FILE, task.example_counts(data.test, features, logits, labels))
    info = json.loads(run.info.read_text(encoding="utf-8"))
    record = {"status": "finished", "metric": task.primary_metric, "score": float(metrics[task.primary_metric]),
              "test": metrics, **{key: info.get(key) for key in _KEPT_INFO}}
    if latency and needs_latency(study, cell, record):
        record["latency_ms"] = _latency(predictor, task.predict_inputs(data.test)[:_LATENCY_TEXTS])
    if study.explain is not None:
        record["explain"] = _faithfulness(predictor, study.explain, task.predict_inputs(data.test))
    if study.robustness is not None:
        record["robustness"] = cell_robustness(predictor, study.robustness, data.test, folder)
    return record


def _faithfulness(predictor: Predictor, block: ExplainSection, inputs: list[Any]) -> dict[str, Any]:
    """The faithfulness of the cell's explanations of test examples drawn at random (the same in every cell: the
    test sample keeps the split's order, which may be sorted by label); an explainer the method cannot
    use is recorded, not fatal (the cell's score stands)."""
    from finegrain.explain import explain, faithfulness, usable_explainers

    usable = usable_explainers(predictor)
    method = block.method or ("integrated-gradients" if "integrated-gradients" in usable else "occlusion")
    chosen = [inputs[index] for index in spread_positions(len(inputs), block.examples)]
    try:
        explanations = explain(predictor, chosen, method, steps=block.steps, erasure=block.erasure)
        table = faithfulness(predictor, chosen, explanations, erasure=block.erasure)
    except FinegrainError as error:
        return {"explainer": method, "error": error.render()}
    ours, random = table["rows"][method], table["rows"]["random"]
    return {"explainer": method, "erasure": table["erasure"], "n": table["n"],
            **{key: ours[key] for key in ("comprehensiveness", "sufficiency", "kendall_tau", "seconds")},
            "random_comprehensiveness": random["comprehensiveness"], "random_sufficiency": random["sufficiency"]}


def save_counts(path: Path, counts: np.ndarray) -> None:
    """Integer counts (tp/fp/fn) are stored as int32; a task's float sums (e.g. absolute errors) as they are."""
    np.save(path, counts.astype(np.int32) if np.issubdtype(counts.dtype, np.integer) else counts)


def _latency(predictor: Predictor, texts: list[Any]) -> dict[str, float]:
    """Milliseconds per example through ``predict`` (tokenize, model, decode) at batch 1 and 32."""
    predictor.predict(texts[:2])  # warm-up: first-call allocations are not the steady state
    singles = texts[: len(texts) // 2]
    started = time.perf_counter()
    for text in singles:
        predictor.predict([text], batch_size=1)
    batch_1 = (time.perf_counter() - started) / len(singles)
    started = time.perf_counter()
    repeats = 2
    for _ in range(repeats):
        predictor.predict(texts, batch_size=32)
    batch_32 = (time.perf_counter() - started) / (repeats * len(texts))
    return {"batch_1": round(1000 * batch_1, 3), "batch_32": round(1000 * batch_32, 3)}
