"""PNG plots for reports: a confusion-matrix heat map, and the figure helpers every plot is drawn with
(a task's own figures, such as classification's reliability diagram, use them too).

matplotlib is imported inside each function, never at module level, so that training and
serving do not pay for it. Figures are drawn on an explicit Agg canvas instead of through
``pyplot``: nothing global (the backend, the current figure) changes in the caller's process,
which keeps notebooks intact and makes the functions safe to call from worker threads.

Labels in Chinese (or Japanese, Korean) need a font with those glyphs, which matplotlib's own DejaVu Sans
lacks: :func:`save_figure` draws with the first CJK font installed as a fallback, and where none is
installed it warns once, with how to install one, instead of matplotlib's warning per missing glyph.

Example:
    >>> from pathlib import Path
    >>> plot_confusion_matrix([[5, 1], [2, 7]], ["neg", "pos"], Path("cm.png"), title="t")  # doctest: +SKIP
    PosixPath('cm.png')
"""

from __future__ import annotations

import functools
import logging
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["plot_confusion_matrix", "new_figure", "save_figure", "installed_cjk_fonts", "CJK_FONTS", "NO_CJK_FONT"]

_DPI = 120
_MAX_SIDE_INCHES = 20.0  # 50 classes at 120 dpi stay a 2400-px image, not a poster
_ANNOTATE_ZEROS_UP_TO = 20  # beyond this many classes, empty cells are left blank to cut clutter
# CJK fonts a system may have (Linux, macOS, Windows), in order of preference
CJK_FONTS = ("Noto Sans CJK SC", "Noto Sans SC", "Source Han Sans SC", "WenQuanYi Micro Hei", "WenQuanYi Zen Hei",
             "Droid Sans Fallback", "AR PL UMing CN", "PingFang SC", "Heiti SC", "Microsoft YaHei", "SimHei")
NO_CJK_FONT = ("figures: no font with Chinese/Japanese/Korean glyphs is installed, so those labels show as empty"
               " boxes in the PNG figures (the report's tables are unaffected). Install one, e.g."
               " `apt install fonts-noto-cjk` or `fonts-wqy-microhei` (Debian/Ubuntu), then rebuild the report.")
_log = logging.getLogger(__name__)


def plot_confusion_matrix(
    matrix: list[list[int]],
    labels: list[str],
    path: Path,
    *,
    title: str,
    normalize: bool = True,
) -> Path:
    """Draw a confusion heat map (rows = gold, columns = predicted) to ``path`` and return it.

    Cells show raw counts; with ``normalize`` the colours are row-normalised (recall per gold
    class), so rare classes are as visible as frequent ones.
    """
    counts = np.asarray(matrix, dtype=float)
    n_classes = len(labels)
    colours = _row_normalised(counts) if normalize else counts
    side = float(np.clip(0.45 * n_classes + 2.5, 4.0, _MAX_SIDE_INCHES))
    figure = new_figure((side + 1.0, side))
    axes = figure.add_subplot()
    image = axes.imshow(colours, cmap="Blues", vmin=0.0, vmax=1.0 if normalize else None)
    figure.colorbar(image, ax=axes, fraction=0.046, pad=0.04, label="row share" if normalize else "count")
    font_size = float(np.clip(220.0 / max(n_classes, 1), 6.0, 11.0))
    axes.set_xticks(
        range(n_classes), labels, rotation=45, ha="right", rotation_mode="anchor", fontsize=font_size
    )
    axes.set_yticks(range(n_classes), labels, fontsize=font_size)
    axes.set_xlabel("predicted")
    axes.set_ylabel("gold")
    axes.set_title(title)
    _annotate_counts(axes, counts, colours, font_size)
    return save_figure(figure, path)


def _row_normalised(counts: np.ndarray) -> np.ndarray:
    """Divide each row by its sum; rows with no gold examples stay zero instead of NaN."""
    totals = counts.sum(axis=1, keepdims=True)
    return np.divide(counts, totals, out=np.zeros_like(counts), where=totals > 0)


def _annotate_counts(axes: Any, counts: np.ndarray, colours: np.ndarray, font_size: float) -> None:
    """Write each count in its cell, white on dark cells so it stays readable."""
    n_classes = counts.shape[0]
    dark_from = 0.5 * (colours.max() or 1.0)
    for gold in range(n_classes):
        for predicted in range(n_classes):
            count = int(counts[gold, predicted])
            if count == 0 and n_classes > _ANNOTATE_ZEROS_UP_TO:
                continue
            colour = "white" if colours[gold, predicted] > dark_from else "black"
            axes.text(predicted, gold, str(count), ha="center", va="center", color=colour, fontsize=font_size)


def new_figure(size: tuple[float, float]) -> Figure:
    """A figure bound to its own Agg canvas (no pyplot, no global backend switch)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=size, dpi=_DPI)
    FigureCanvasAgg(figure)
    return figure


def save_figure(figure: Figure, path: Path) -> Path:
    """Lay out tightly and write a PNG, creating the parent folder if needed; an installed CJK font
    draws what each text's own font has no glyph for (matplotlib falls back along a text's families)."""
    from matplotlib.text import Text

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fallbacks = installed_cjk_fonts()
    for text in figure.findobj(Text):  # a figure saved twice gains each fallback once
        families = list(text.get_fontfamily())
        text.set_fontfamily(families + [name for name in fallbacks if name not in families])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        figure.tight_layout()
        figure.savefig(path, format="png", dpi=_DPI)
    for caught_warning in caught:  # without a CJK font each missing glyph is one warning: say it once, with the fix
        if not fallbacks and "missing from font" in str(caught_warning.message):
            _warn_no_cjk_font()
        else:
            warnings.warn_explicit(caught_warning.message, caught_warning.category, caught_warning.filename,
                                   caught_warning.lineno)
    return path


@functools.cache
def installed_cjk_fonts() -> list[str]:
    """The families of :data:`CJK_FONTS` that matplotlib finds on this system, in that order."""
    from matplotlib import font_manager

    installed = {font.name for font in font_manager.fontManager.ttflist}
    return [name for name in CJK_FONTS if name in installed]


@functools.cache
def _warn_no_cjk_font() -> None:
    _log.warning(NO_CJK_FONT)
