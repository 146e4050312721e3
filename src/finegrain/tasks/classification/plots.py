"""The reliability diagram of a classification split (matplotlib, imported lazily by the figure helpers).

Example:
    >>> from pathlib import Path
    >>> plot_reliability(metrics["calibration"], Path("reliability.png"), title="t")  # doctest: +SKIP
    PosixPath('reliability.png')
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from finegrain.rendering.figures import new_figure, save_figure
from finegrain.tasks.classification.calibration import ece_from_bins

__all__ = ["plot_reliability"]


def plot_reliability(bins: list[dict[str, Any]], path: Path, *, title: str) -> Path:
    """Draw a reliability diagram from calibration bins to ``path`` and return it.

    Bars span their confidence bin and reach the bin's accuracy; the hatched part is the gap
    to the bin's mean confidence. A calibrated model follows the dashed diagonal.
    """
    figure = new_figure((5.5, 5.0))
    axes = figure.add_subplot()
    filled = [b for b in bins if b["count"]]
    lowers = [b["lower"] for b in filled]
    widths = [b["upper"] - b["lower"] for b in filled]
    accuracies = [b["accuracy"] for b in filled]
    gaps = [b["confidence"] - b["accuracy"] for b in filled]
    axes.bar(
        lowers, accuracies, width=widths, align="edge", color="#4c72b0", edgecolor="black", label="accuracy"
    )
    axes.bar(
        lowers, gaps, bottom=accuracies, width=widths, align="edge",
        color="#dd8452", alpha=0.35, hatch="//", edgecolor="#dd8452", label="gap to confidence",
    )
    axes.plot([0, 1], [0, 1], linestyle="--", color="gray", label="perfect calibration")
    axes.set_xlim(0, 1)
    axes.set_ylim(0, 1)
    axes.set_xlabel("confidence")
    axes.set_ylabel("accuracy")
    axes.set_title(f"{title} (ECE = {ece_from_bins(bins):.4f})")
    axes.legend(loc="upper left")
    return save_figure(figure, path)
