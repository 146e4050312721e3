"""Aggregate a study's cells: per method and size, mean ± std over seeds, a 95% bootstrap interval,
a paired test against the best method at that size, and the costs (parameters, time, memory, latency).

The task's ``study`` view says how its per-example counts give its metric, which per-class scores,
confusion matrix and count breakdowns a row keeps, and its ``greater_is_better`` which method is best.

Example:
    >>> summary = aggregate_study(study, Path("studies/tweets"), task)  # doctest: +SKIP
    >>> summary["rows"][0]["method"], summary["rows"][0]["mean"]  # doctest: +SKIP
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from finegrain.study.cells import COUNTS_FILE, Cell, read_cell
from finegrain.study.config import StudyConfig, size_label
from finegrain.study.robustness import add_robustness
from finegrain.study.stats import bootstrap_weights, paired_test, seed_interval
from finegrain.tasks.base import Task
from finegrain.tasks.outputs import StudyView

__all__ = ["aggregate_study"]


def aggregate_study(study: StudyConfig, root: Path, task: Task) -> dict[str, Any]:
    """Everything the report shows, as JSON-ready data (also written to ``results.json``)."""
    view, metric = task.study, task.study.score_counts
    records: dict[tuple[str, str], dict[int, dict[str, Any]]] = defaultdict(dict)
    counts: dict[tuple[str, str], dict[int, np.ndarray]] = defaultdict(dict)
    for variant in study.variants():
        for size in study.sizes:
            for seed in study.seeds:
                folder = Cell(variant, size, seed).folder(root)
                record = read_cell(folder)
                if record is None:
                    continue
                records[(variant.id, size_label(size))][seed] = record
                if record.get("status") == "finished" and (folder / COUNTS_FILE).is_file():
                    counts[(variant.id, size_label(size))][seed] = np.load(folder / COUNTS_FILE).astype(np.float64)
    n_test = next((len(c) for per_seed in counts.values() for c in per_seed.values()), 0)
    weights = bootstrap_weights(n_test) if n_test else None
    rows = []
    for size in study.sizes:
        label = size_label(size)
        size_rows = [_row(variant.id, label, records[(variant.id, label)], counts[(variant.id, label)], view, weights)
                     for variant in study.variants()]
        _compare_with_best(size_rows, counts, label, metric, weights, task.greater_is_better)
        rows.extend(size_rows)
    add_robustness(rows, study, root)
    return {"metric": task.primary_metric, "test_examples": n_test, "rows": rows,
            "failures": [_failure(record) for per_seed in records.values() for record in per_seed.values()
                         if record.get("status") == "failed"]}


def _row(method: str, size: str, records: dict[int, dict[str, Any]], per_seed: dict[int, np.ndarray],
         view: StudyView, weights: np.ndarray | None) -> dict[str, Any]:
    finished = [records[seed] for seed in sorted(per_seed)]
    row: dict[str, Any] = {"method": method, "size": size, "seeds": sorted(per_seed),
                           "failed_seeds": sorted(s for s, r in records.items() if r.get("status") == "failed"),
                           "train_examples": _mean([r.get("train_examples") for r in records.values()])}
    if not finished or weights is None:
        return row
    interval = seed_interval([per_seed[s] for s in sorted(per_seed)], view.score_counts, weights)
    row.update(mean=interval.mean, std=interval.std, ci_low=interval.low, ci_high=interval.high,
               per_seed=list(interval.per_seed),
               trainable=_first(finished, "parameters", "trainable"),
               trainable_percent=_first(finished, "parameters", "trainable_percent"),
               train_seconds=_mean([(r.get("timing") or {}).get("train_seconds") for r in finished]),
               peak_memory_mb=_mean([r.get("peak_memory_mb") for r in finished]),
               model_size_mb=_mean([r.get("model_size_mb") for r in finished]),
               latency_1_ms=_mean([(r.get("latency_ms") or {}).get("batch_1") for r in finished]),
               latency_32_ms=_mean([(r.get("latency_ms") or {}).get("batch_32") for r in finished]),
               per_class=_per_class(finished, view), confusion=_confusion(finished, view), explain=_explain(finished),
               **{b.key: _mean_counts(finished, b.counts) for b in view.breakdowns})
    return row


def _compare_with_best(rows: list[dict[str, Any]], counts: dict, size: str, metric: Any,
                       weights: np.ndarray | None, greater_is_better: bool) -> None:
    """Mark the best method at this size and test every other one against it on shared seeds."""
    scored = [row for row in rows if "mean" in row]
    if not scored:
        return
    best = (max if greater_is_better else min)(scored, key=lambda row: row["mean"])
    best["best"] = True
    for row in scored:
        if row is best:
            continue
        seeds = sorted(set(counts[(best["method"], size)]) & set(counts[(row["method"], size)]))
        if not seeds:
            continue
        difference, p_value = paired_test([counts[(row["method"], size)][s] for s in seeds],
                                          [counts[(best["method"], size)][s] for s in seeds], metric, weights)
        row.update(vs_best=best["method"], difference=difference, p_value=p_value)


def _first(records: list[dict[str, Any]], *keys: str) -> Any:
    value: Any = records[0]
    for key in keys:
        value = (value or {}).get(key)
    return value


def _mean(values: list[Any]) -> float | None:
    numbers = [float(v) for v in values if isinstance(v, (int, float))]
    return float(np.mean(numbers)) if numbers else None


def _explain(records: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The faithfulness numbers of the cells' explanations, averaged over seeds; None without an explain block."""
    measured = [r["explain"] for r in records if r.get("explain")]
    if not measured:
        return None
    keys = ("comprehensiveness", "sufficiency", "kendall_tau", "seconds", "random_comprehensiveness",
            "random_sufficiency")
    errors = [m["error"] for m in measured if "error" in m]
    return {"explainer": measured[0]["explainer"], **{key: _mean([m.get(key) for m in measured]) for key in keys},
            **({"error": errors[0]} if errors else {})}


def _per_class(records: list[dict[str, Any]], view: StudyView) -> dict[str, float]:
    """Mean F1 per class (or entity type) over seeds; a class a seed never scored counts 0."""
    tables = [view.class_f1(r["test"]) for r in records]
    names = sorted({name for table in tables for name in table})
    return {name: float(np.mean([table.get(name, 0.0) for table in tables])) for name in names}


def _confusion(records: list[dict[str, Any]], view: StudyView) -> dict[str, Any] | None:
    """The confusion matrix summed over seeds, where the task has one."""
    matrices = [view.confusion(r["test"]) for r in records]
    if not all(matrices):
        return None
    return {"labels": matrices[0]["labels"], "matrix": np.sum([m["matrix"] for m in matrices], axis=0).tolist()}


def _mean_counts(records: list[dict[str, Any]], counts: Callable[[dict[str, Any]], dict[str, float] | None]
                 ) -> dict[str, float] | None:
    """Mean count of each kind of a breakdown (e.g. error kinds) over seeds."""
    tables = [counts(r["test"]) for r in records]
    if not all(tables):
        return None
    return {kind: float(np.mean([t[kind] for t in tables])) for kind in tables[0]}


def _failure(record: dict[str, Any]) -> dict[str, Any]:
    return {"method": record["method"], "size": record["size"], "seed": record["seed"], "error": record.get("error")}
