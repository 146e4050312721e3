"""A run's Markdown evaluation report, with the figures its task draws.

``metrics`` maps a split name ("validation", "test", ...) to the dict the task's ``evaluate``
returned; any split may be missing. The title and run table are shared; the summary, the section
of each split and the figures are the task's (its ``report`` declaration), so this module never
names a metric.

Example:
    >>> import numpy as np
    >>> from finegrain.tasks.classification import ClassificationTask
    >>> from finegrain.tasks.classification.metrics import classification_metrics
    >>> m = classification_metrics(np.array([0, 1]), np.array([[0.8, 0.2], [0.3, 0.7]]), ["neg", "pos"])
    >>> render_markdown({"test": m}, ClassificationTask.report, title="demo").splitlines()[0]
    '# demo'
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from finegrain.rendering.markdown import fmt, section, table
from finegrain.tasks.outputs import ReportSections

__all__ = ["render_markdown", "write_report"]


def render_markdown(metrics: dict[str, dict[str, Any]], report: ReportSections, *, title: str,
                    run_info: dict[str, Any] | None = None) -> str:
    """Render run info, the task's summary over splits and its section of each split as Markdown."""
    parts = [f"# {title}"]
    if run_info:
        info_rows = [[key, _format_info(value)] for key, value in run_info.items()]
        parts.append(section("Run", table(["field", "value"], info_rows)))
    if not metrics:
        parts.append("_No evaluation splits were available._")
        return "\n\n".join(parts) + "\n"
    parts.append(section("Summary", report.summary(metrics)))
    parts.extend(report.split(split, split_metrics) for split, split_metrics in metrics.items())
    return "\n\n".join(parts) + "\n"


def write_report(run_dir: Path, metrics: dict[str, dict[str, Any]], report: ReportSections, *, title: str,
                 run_info: dict[str, Any] | None = None) -> Path:
    """Write the task's figures under ``run_dir/plots/`` and ``run_dir/report.md``; return the report path.

    The caller's ``metrics`` is not modified.
    """
    run_dir = Path(run_dir)
    with_images = {split: _with_plots(run_dir, split, m, report) for split, m in metrics.items()}
    report_path = run_dir / "report.md"
    report_path.parent.mkdir(parents=True, exist_ok=True)
    markdown = render_markdown(with_images, report, title=title, run_info=run_info)
    extra = [part for part in (render(run_dir) for render in analysis_sections()) if part]
    report_path.write_text("\n\n".join([markdown.rstrip("\n"), *extra]) + "\n", encoding="utf-8")
    return report_path


def rewrite_run_report(folder: Path) -> Path:
    """Write a finished run's ``report.md`` and plots again from its ``metrics.json`` (with the analyses run
    since); raises RunDirError where the folder holds no finished run."""
    import json

    from finegrain.errors import RunDirError
    from finegrain.registry import TASKS
    from finegrain.training.run_dir import open_run_dir
    from finegrain.training.run_record import report_info

    run_dir = open_run_dir(folder)
    if not run_dir.metrics.is_file():
        raise RunDirError(f"'{folder}' holds neither a study (study.yaml) nor a finished run (metrics.json).",
                          hint="Give the output folder of 'finegrain study' or of a finished 'finegrain train'.")
    info = json.loads(run_dir.info.read_text(encoding="utf-8"))
    metrics = json.loads(run_dir.metrics.read_text(encoding="utf-8"))
    return write_report(run_dir.path, metrics, TASKS.get(info["task"]).report,
                        title=f"{info['task']} · {info['method']} · {Path(folder).name}", run_info=report_info(info))


def analysis_sections() -> list[Callable[[Path], str | None]]:
    """The sections that analyses run after training add to a run's report (each returns None where its
    analysis has not been run): ``finegrain explain``'s faithfulness."""
    from finegrain.explain.report_section import explanations_section

    return [explanations_section]


def _with_plots(run_dir: Path, split: str, split_metrics: dict[str, Any], report: ReportSections) -> dict[str, Any]:
    """Draw the split's figures and return a copy of its metrics with their relative paths."""
    drawn = report.plots(run_dir, split, split_metrics) if report.plots is not None else {}
    if not drawn:
        return split_metrics
    return {**split_metrics, "images": {**(split_metrics.get("images") or {}), **drawn}}


def _format_info(value: Any) -> str:
    """Run-info values span magnitudes (learning rates, seconds), so floats get 4 significant digits."""
    return f"{value:.4g}" if isinstance(value, float) else fmt(value)
