"""A study's ``robustness`` block: each cell runs the suite's invariance tests and the attacks on the same test
examples (drawn at random); the report gives each method's flip rate and attack success rates with hierarchical
bootstrap intervals (test examples and seeds), a paired test against the most robust method at the same size, and
clean score against robustness with its Pareto front: which adaptation method is most robust at a label budget.

A cell keeps, per test example, (failures, tries) for each measure in ``robustness.npy``: the pooled invariance
tests (a flip in one test is one failure out of the tests that applied to it) and each attack (a success out of
one attack on an input predicted correctly), so a rate is sum(failures) / sum(tries) on any resample. An attack
a cell's method cannot use (the embedding attack for TF-IDF) is skipped there and compared among the others.

Example:
    >>> float(rates(np.array([[1, 2], [0, 2]], dtype=float).sum(0)))  # 1 failure in 4 tries
    0.25
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from finegrain.errors import FinegrainError
from finegrain.study.config import RobustnessSection, StudyConfig, size_label
from finegrain.study.stats import bootstrap_weights, paired_test, seed_interval

if TYPE_CHECKING:
    from finegrain.data.split import Split
    from finegrain.training.predictor import Predictor

__all__ = ["cell_robustness", "add_robustness", "robustness_table", "rates", "ROBUSTNESS_FILE"]

ROBUSTNESS_FILE = "robustness.npy"
INVARIANCE = "invariance flip rate"


def rates(sums: np.ndarray) -> np.ndarray:
    """failures / tries of summed (..., 2) counts; 0 where nothing was tried."""
    return np.divide(sums[..., 0], sums[..., 1], out=np.zeros_like(sums[..., 0], dtype=float),
                     where=sums[..., 1] > 0)


def cell_robustness(predictor: Predictor, block: RobustnessSection, test: Split, folder: Path) -> dict[str, Any]:
    """Run the block on the cell's model; write the per-example counts; return the rates (an error is recorded,
    not fatal: the cell's score stands)."""
    from finegrain.robustness.attacks import Constraints
    from finegrain.robustness.candidates import usable_attacks
    from finegrain.robustness.runner import check_limit, robustness
    from finegrain.robustness.suites import default_suite, load_suite

    usable = usable_attacks(predictor)  # TF-IDF has no input embeddings: its cells skip that attack, not all
    attacks = [name for name in block.attacks if name in usable]
    try:
        suite = default_suite() if block.suite == "default" else load_suite(block.suite)
        split = check_limit(test, min(block.examples, len(test)), "the study's test split", predictor.task.stratify)
        result = robustness(predictor, split, suite, attacks,
                            Constraints(block.max_share, block.min_similarity), seed=block.seed)
    except FinegrainError as error:
        return {"error": error.render()}
    measures = {INVARIANCE: [entry.get("rows") for entry in result["invariance"].values()]}
    measures.update({f"{name} attack success rate": [entry.get("rows")] for name, entry in result["attacks"].items()})
    counts = np.zeros((len(split), 2 * len(measures)))
    for index, tables in enumerate(measures.values()):
        for rows in filter(None, tables):
            np.add.at(counts[:, 2 * index], rows["failed"], 1)
            np.add.at(counts[:, 2 * index + 1], rows["tested"], 1)
    np.save(folder / ROBUSTNESS_FILE, counts)
    skipped = [name for name in block.attacks if name not in attacks]
    return {"measures": list(measures), "clean": result["clean"]["score"],
            "rates": {name: float(rates(counts[:, 2 * i:2 * i + 2].sum(0))) for i, name in enumerate(measures)},
            **({"skipped_attacks": skipped} if skipped else {})}


def add_robustness(rows: list[dict[str, Any]], study: StudyConfig, root: Path) -> None:
    """Each row's robustness measures, with intervals and a paired test against the most robust method."""
    if study.robustness is None:
        return
    from finegrain.study.cells import Cell, read_cell

    for size in study.sizes:
        label = size_label(size)
        counts: dict[str, dict[int, dict[str, np.ndarray]]] = {}  # method -> seed -> measure -> (n, 2)
        for variant in study.variants():
            for seed in study.seeds:
                folder = Cell(variant, size, seed).folder(root)
                record = read_cell(folder) or {}
                found = (record.get("robustness") or {}).get("measures")
                if found and (folder / ROBUSTNESS_FILE).is_file():
                    table = np.load(folder / ROBUSTNESS_FILE)
                    counts.setdefault(variant.id, {})[seed] = {name: table[:, 2 * i:2 * i + 2]
                                                               for i, name in enumerate(found)}
        size_rows = {r["method"]: r for r in rows if r["size"] == label}
        names = dict.fromkeys(name for seeds in counts.values() for cell in seeds.values() for name in cell)
        for name in names:  # a measure some cells lack (an attack TF-IDF cannot use) compares the others
            per_method = {m: {s: cell[name] for s, cell in seeds.items() if name in cell}
                          for m, seeds in counts.items()}
            _measure(size_rows, {m: seeds for m, seeds in per_method.items() if seeds}, name)


def _measure(rows: dict[str, dict[str, Any]], per_method: dict[str, dict[int, np.ndarray]], name: str) -> None:
    n = next((len(c) for seeds in per_method.values() for c in seeds.values()), 0)
    if not n:
        return
    weights = bootstrap_weights(n)
    found = {}
    for method, seeds in per_method.items():
        interval = seed_interval([seeds[s] for s in sorted(seeds)], rates, weights)
        found[method] = {"mean": interval.mean, "low": interval.low, "high": interval.high}
    best = min(found, key=lambda m: found[m]["mean"])
    for method, entry in found.items():
        shared = sorted(set(per_method[method]) & set(per_method[best]))
        if method != best and shared:
            difference, p_value = paired_test([per_method[method][s] for s in shared],
                                              [per_method[best][s] for s in shared], rates, weights)
            entry.update(vs_best=best, difference=difference, p_value=p_value)
        entry["best"] = method == best
        if method in rows:
            rows[method].setdefault("robustness", {})[name] = entry


def robustness_table(rows: list[dict[str, Any]]) -> tuple[list[str], list[list[Any]]]:
    """One line per method and size: clean score, then each measure's mean [interval] (difference, p)."""
    measured = [r for r in rows if r.get("robustness")]
    names = list(dict.fromkeys(name for r in measured for name in r["robustness"]))
    table = []
    for r in measured:
        cells = []
        for name in names:
            e = r["robustness"].get(name)
            versus = "most robust" if e and e.get("best") else (
                f"{e['difference']:+.3f} (p {e['p_value']:.3f})" if e and "difference" in e else "")
            cells.append(f"{e['mean']:.3f} [{e['low']:.3f}, {e['high']:.3f}] {versus}".strip() if e else "-")
        table.append([r["method"], r["size"], f"{r['mean']:.3f}" if "mean" in r else "-", *cells])
    return ["method", "size", "clean score", *names], table


def plot_robustness(rows: list[dict[str, Any]], size: str, path: Path, metric_label: str) -> Path | None:
    """Clean score against the first measure's failure rate at ``size``; the Pareto front dashed."""
    from finegrain.rendering.figures import new_figure, save_figure
    from finegrain.study.plots import pareto_front

    points = [(next(iter(r["robustness"].values()))["mean"], r["mean"], r["method"]) for r in rows
              if r["size"] == size and r.get("robustness") and "mean" in r]
    if not points:
        return None
    figure = new_figure((6.0, 4.4))
    axes = figure.add_subplot(1, 1, 1)
    for failure, clean, method in points:
        axes.plot(failure, clean, "o", markersize=7)
        axes.annotate(method, (failure, clean), textcoords="offset points", xytext=(6, 4), fontsize=8)
    front = pareto_front([(failure, clean) for failure, clean, _ in points])
    if len(front) > 1:
        axes.step(*zip(*front), where="post", color="black", linestyle="--", linewidth=1)
    measure = next(iter(next(r for r in rows if r.get("robustness"))["robustness"]))
    axes.set_xlabel(f"{measure} (lower: more robust)")
    axes.set_ylabel(f"clean test {metric_label}")
    axes.grid(alpha=0.3)
    figure.suptitle(f"Clean score vs robustness at size {size} (up and to the left is better)")
    return save_figure(figure, path)
