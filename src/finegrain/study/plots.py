"""The study's figures (matplotlib, imported lazily): learning curves with interval bands, quality
versus trainable parameters and versus latency with the Pareto front, a per-class F1 heat map and
the count breakdowns a task declares (e.g. NER's error kinds). Every function takes the aggregated
rows and writes one PNG; the metric is named as the task's study view labels it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from finegrain.rendering.figures import new_figure, save_figure

__all__ = ["plot_learning_curves", "plot_tradeoffs", "plot_class_heatmap", "plot_breakdown", "method_colours",
           "pareto_front"]


def method_colours(methods: list[str]) -> dict[str, Any]:
    from matplotlib import colormaps

    palette = colormaps["tab10"] if len(methods) <= 10 else colormaps["tab20"]
    return {method: palette(index % palette.N) for index, method in enumerate(methods)}


def plot_learning_curves(rows: list[dict[str, Any]], methods: list[str], sizes: list[str], metric_label: str,
                         size_unit: str, path: Path) -> Path:
    """Metric against training examples, one line per method, its 95% interval as a band."""
    figure = new_figure((7.5, 4.6))
    axes = figure.add_subplot()
    colours = method_colours(methods)
    ticks: dict[float, str] = {}
    for method in methods:
        points = [r for r in rows if r["method"] == method and "mean" in r]
        if not points:
            continue
        x = np.array([r["train_examples"] for r in points], dtype=float)
        mean = np.array([r["mean"] for r in points])
        axes.plot(x, mean, marker="o", color=colours[method], label=method, linewidth=2)
        axes.fill_between(x, [r["ci_low"] for r in points], [r["ci_high"] for r in points], color=colours[method],
                          alpha=0.15, linewidth=0)
        ticks.update({float(xi): f"{r['size']}\n({int(round(xi))})" for xi, r in zip(x, points)})
    if len(ticks) > 1:
        axes.set_xscale("log")
    axes.set_xticks(list(ticks), list(ticks.values()), fontsize=8)
    axes.minorticks_off()
    axes.set_xlabel(f"training size: {size_unit} (training examples)")
    axes.set_ylabel(f"test {metric_label}")
    axes.set_title("Learning curves (mean over seeds, 95% bootstrap interval)")
    axes.grid(alpha=0.3)
    axes.legend(fontsize=8, loc="best")
    return save_figure(figure, path)


def plot_tradeoffs(rows: list[dict[str, Any]], methods: list[str], metric_label: str, size: str, path: Path, *,
                   greater_is_better: bool = True) -> Path:
    """Quality against trainable parameters and against batch-1 latency; Pareto fronts marked."""
    figure = new_figure((11.0, 4.4))
    colours = method_colours(methods)
    scored = [r for r in rows if r["size"] == size and "mean" in r]
    for index, (key, label) in enumerate((("trainable", "trainable parameters (log)"),
                                          ("latency_1_ms", "latency per example at batch 1, ms (log)"))):
        axes = figure.add_subplot(1, 2, index + 1)
        points = [r for r in scored if isinstance(r.get(key), (int, float)) and r[key] > 0]
        for row in points:
            error = [[row["mean"] - row["ci_low"]], [row["ci_high"] - row["mean"]]]
            axes.errorbar(row[key], row["mean"], yerr=error, fmt="o", color=colours[row["method"]], capsize=3,
                          markersize=7, label=row["method"])
            axes.annotate(row["method"], (row[key], row["mean"]), textcoords="offset points", xytext=(6, 4),
                          fontsize=8)
        front = pareto_front([(r[key], r["mean"]) for r in points], greater_is_better=greater_is_better)
        if len(front) > 1:
            axes.step(*zip(*front), where="post", color="black", linestyle="--", linewidth=1, label="Pareto front")
        if points:
            axes.set_xscale("log")
        else:  # e.g. a study run with latency: false
            axes.text(0.5, 0.5, "not measured", ha="center", va="center", transform=axes.transAxes, color="grey")
            axes.set_xticks([])
            axes.set_yticks([])
        axes.set_xlabel(label)
        axes.set_ylabel(f"test {metric_label}")
        axes.grid(alpha=0.3)
    better = "up and to the left" if greater_is_better else "down and to the left"
    figure.suptitle(f"Quality vs cost at size {size} ({better} is better)")
    return save_figure(figure, path)


def pareto_front(points: list[tuple[float, float]], *, greater_is_better: bool = True) -> list[tuple[float, float]]:
    """The points no other point beats on both cost (lower) and quality (higher, or lower where the metric
    is better lower), by cost.

    Example:
        >>> pareto_front([(1, 0.5), (2, 0.4), (3, 0.7)])
        [(1, 0.5), (3, 0.7)]
    """
    sign = 1.0 if greater_is_better else -1.0
    front, best = [], -np.inf
    for cost, quality in sorted(points, key=lambda p: (p[0], -sign * p[1])):
        if sign * quality > best:
            front.append((cost, quality))
            best = sign * quality
    return front


def plot_class_heatmap(rows: list[dict[str, Any]], size: str, path: Path) -> Path | None:
    """Methods x classes (or entity types): mean test F1 at one size."""
    scored = [r for r in rows if r["size"] == size and r.get("per_class")]
    if not scored:
        return None
    classes = sorted({name for r in scored for name in r["per_class"]})
    values = np.array([[r["per_class"].get(name, 0.0) for name in classes] for r in scored])
    figure = new_figure((max(5.0, 1.0 + 0.8 * len(classes)), max(2.5, 0.9 + 0.45 * len(scored))))
    axes = figure.add_subplot()
    image = axes.imshow(values, cmap="viridis", vmin=0.0, vmax=1.0, aspect="auto")
    axes.set_xticks(range(len(classes)), classes, rotation=35, ha="right", fontsize=8)
    axes.set_yticks(range(len(scored)), [r["method"] for r in scored], fontsize=8)
    for i in range(values.shape[0]):
        for j in range(values.shape[1]):
            axes.text(j, i, f"{values[i, j]:.2f}", ha="center", va="center", fontsize=7,
                      color="black" if values[i, j] > 0.6 else "white")
    figure.colorbar(image, ax=axes, fraction=0.04)
    axes.set_title(f"Per-class test F1 at size {size} (mean over seeds)")
    return save_figure(figure, path)


def plot_breakdown(rows: list[dict[str, Any]], key: str, size: str, path: Path, *, title: str,
                   axis: str) -> Path | None:
    """Stacked bars: each method's counts by kind (``row[key]``, mean over seeds) at one size."""
    scored = [r for r in rows if r["size"] == size and r.get(key)]
    if not scored:
        return None
    kinds = list(scored[0][key])
    figure = new_figure((7.5, 0.9 + 0.5 * len(scored)))
    axes = figure.add_subplot()
    left = np.zeros(len(scored))
    for kind, colour in zip(kinds, method_colours(kinds).values()):
        values = np.array([r[key].get(kind, 0.0) for r in scored])
        axes.barh([r["method"] for r in scored], values, left=left, color=colour, label=kind.replace("_", "+"))
        left += values
    axes.set_xlabel(axis)
    axes.set_title(title)
    axes.legend(fontsize=8, ncols=len(kinds), loc="upper center", bbox_to_anchor=(0.5, -0.25))
    return save_figure(figure, path)
