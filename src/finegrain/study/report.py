"""The study report: one self-contained HTML page (figures embedded) and the same content in Markdown.

Both are rendered from one list of blocks (heading, text, table, figure), so they never disagree.
"""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from finegrain.rendering import markdown
from finegrain.rendering.pages import Block, html_page, markdown_page
from finegrain.rendering.figures import plot_confusion_matrix
from finegrain.study.plots import plot_breakdown, plot_class_heatmap, plot_learning_curves, plot_tradeoffs
from finegrain.study.robustness import plot_robustness, robustness_table
from finegrain.tasks.base import Task

__all__ = ["write_study_report", "findings_text", "results_table"]

_SIGNIFICANCE = 0.05


def write_study_report(root: Path, summary: dict[str, Any], task: Task) -> Path:
    """Write ``plots/*.png``, ``report.md`` and ``report.html``; return the HTML path.

    The metric is named, and the best method's confusion matrix and count breakdowns shown, as the
    ``task`` declares (its ``study`` view).
    """
    blocks = _blocks(root, summary, task)
    title = f"Study: {summary['task']} on {summary['data']}"
    (root / "report.md").write_text(markdown_page(title, blocks, root), encoding="utf-8")
    path = root / "report.html"
    path.write_text(html_page(title, blocks), encoding="utf-8")
    return path


def _blocks(root: Path, summary: dict[str, Any], task: Task) -> list[Block]:
    rows, metric, methods, sizes = summary["rows"], summary["metric"], summary["methods"], summary["sizes"]
    label = task.study.metric_label
    largest = next((s for s in reversed(sizes) if any(r["size"] == s and "mean" in r for r in rows)), sizes[-1])
    plots = root / "plots"
    blocks = [Block("Findings", findings_text(summary)),
              Block("Results", _results_note(summary), *results_table(rows, metric)),
              Block("Learning curves", image=plot_learning_curves(rows, methods, sizes, label, summary["size_unit"],
                                                                  plots / "learning_curves.png")),
              Block("Quality vs cost", "Dashed: the Pareto front (no other method is both cheaper and better).",
                    image=plot_tradeoffs(rows, methods, label, largest, plots / "tradeoffs.png",
                                         greater_is_better=task.greater_is_better))]
    heatmap = plot_class_heatmap(rows, largest, plots / "per_class_f1.png")
    if heatmap:
        blocks.append(Block("Per-class F1", image=heatmap))
    best = next((r for r in rows if r["size"] == largest and r.get("best")), None)
    if best and best.get("confusion"):
        image = plot_confusion_matrix(best["confusion"]["matrix"], best["confusion"]["labels"],
                                      plots / "confusion_best.png",
                                      title=f"{best['method']} at size {largest}, summed over seeds")
        blocks.append(Block(f"Confusion matrix of the best method ({best['method']})", image=image))
    for breakdown in task.study.breakdowns:
        image = plot_breakdown(rows, breakdown.key, largest, plots / f"{breakdown.key}.png",
                               title=breakdown.title.format(size=largest), axis=breakdown.axis)
        if image:
            blocks.append(Block(breakdown.heading, breakdown.text, image=image))
    explained = [r for r in rows if r.get("explain")]
    if explained:
        blocks.append(Block("Faithfulness of explanations", _FAITHFULNESS_NOTE, *faithfulness_table(explained)))
    if any(r.get("robustness") for r in rows):
        blocks.append(Block("Robustness", _ROBUSTNESS_NOTE, *robustness_table(rows),
                            image=plot_robustness(rows, largest, plots / "robustness.png", label)))
    if summary["failures"]:
        blocks.append(Block("Failed cells", "These cells crashed; the study went on without them. Fix the cause "
                            "and run the study again with --resume to retry them.", ["method", "size", "seed", "error"],
                            [[f["method"], f["size"], f["seed"], markdown.truncate(f["error"] or "", 300)]
                             for f in summary["failures"]]))
    blocks.append(Block("Setup", headers=["", ""], rows=_setup_rows(summary)))
    return blocks


def findings_text(summary: dict[str, Any]) -> str:
    """One sentence per size: the best method and how the others compare with it."""
    lines = []
    for size in summary["sizes"]:
        scored = [r for r in summary["rows"] if r["size"] == size and "mean" in r]
        best = next((r for r in scored if r.get("best")), None)
        if best is None:
            lines.append(f"Size {size}: no finished cell.")
            continue
        tied = [r["method"] for r in scored if r is not best and r.get("p_value", 0.0) >= _SIGNIFICANCE]
        worse = [r["method"] for r in scored if r is not best and r.get("p_value", 1.0) < _SIGNIFICANCE]
        text = (f"Size {size}: {best['method']} is best with {best['mean']:.3f} "
                f"(95% interval {best['ci_low']:.3f} to {best['ci_high']:.3f}).")
        if worse:
            text += f" Significantly below it (paired bootstrap, p < {_SIGNIFICANCE}): {', '.join(worse)}."
        if tied:
            text += f" Not distinguishable from it: {', '.join(tied)}."
        lines.append(text)
    return "\n".join(lines)


def _results_note(summary: dict[str, Any]) -> str:
    return (f"Test {summary['metric']} on {summary['test_examples']} examples ({summary['test_note']}): mean ± std "
            f"over seeds, 95% hierarchical bootstrap interval (test examples and seeds), and the difference from the "
            f"best method at the same size with its paired-bootstrap p-value. Latency is per example through "
            f"finegrain's predictor. Sizes are {summary['size_unit']}.")


def results_table(rows: list[dict[str, Any]], metric: str) -> tuple[list[str], list[list[Any]]]:
    headers = ["method", "size", "train examples", f"{metric} mean ± std", "95% interval", "vs best (p)",
               "trainable params", "train s", "peak MB", "ms/ex batch 1", "ms/ex batch 32", "seeds"]
    table = []
    for r in rows:
        seeds = f"{len(r['seeds'])}" + (f" ({len(r['failed_seeds'])} failed)" if r["failed_seeds"] else "")
        if "mean" not in r:
            table.append([r["method"], r["size"], _num(r.get("train_examples")), "not run", "", "", "", "", "", "", "",
                          seeds])
            continue
        versus = "best" if r.get("best") else (
            f"{r['difference']:+.3f} ({_p(r['p_value'])})" if "difference" in r else "")
        table.append([r["method"], r["size"], _num(r["train_examples"]), f"{r['mean']:.3f} ± {r['std']:.3f}",
                      f"{r['ci_low']:.3f} – {r['ci_high']:.3f}", versus, _params(r), _num(r.get("train_seconds"), 1),
                      _num(r.get("peak_memory_mb"), 0), _num(r.get("latency_1_ms"), 2),
                      _num(r.get("latency_32_ms"), 2), seeds])
    return headers, table


_ROBUSTNESS_NOTE = ("Each cell ran the invariance tests and attacks on the same test examples drawn at random:"
                    " the flip rate pools the invariance tests, an attack's success rate is over the inputs the"
                    " cell predicted correctly. Mean over seeds [95% hierarchical bootstrap interval], and the"
                    " difference from the most robust method at the same size with its paired-bootstrap p-value."
                    " Lower is more robust.")
_FAITHFULNESS_NOTE = ("Each cell explained the same test examples drawn at random (integrated gradients where the"
                      " method has a PyTorch model, else occlusion). Comprehensiveness AOPC: how much the explained"
                      " label's probability drops when the top 1-50% words are erased (higher: more faithful);"
                      " sufficiency AOPC: how much it drops when only they are kept (lower: more faithful); both"
                      " beside random attributions. Kendall tau: agreement with leave-one-word-out. Means over seeds.")


def faithfulness_table(rows: list[dict[str, Any]]) -> tuple[list[str], list[list[Any]]]:
    headers = ["method", "size", "explainer", "comprehensiveness", "(random)", "sufficiency", "(random)",
               "Kendall tau vs leave-one-out", "s / explanation"]
    table = []
    for r in rows:
        e = r["explain"]
        if e.get("error"):
            table.append([r["method"], r["size"], e["explainer"], markdown.truncate(e["error"], 120), "", "", "", "",
                          ""])
            continue
        table.append([r["method"], r["size"], e["explainer"], _num(e["comprehensiveness"], 4),
                      _num(e["random_comprehensiveness"], 4), _num(e["sufficiency"], 4),
                      _num(e["random_sufficiency"], 4), _num(e["kendall_tau"], 3), _num(e["seconds"], 3)])
    return headers, table


def _params(row: dict[str, Any]) -> str:
    if row.get("trainable") is None:
        return "-"
    percent = row.get("trainable_percent")
    return f"{row['trainable']:,}" + (f" ({percent:.2f}%)" if isinstance(percent, (int, float)) else "")


def _num(value: Any, digits: int = 0) -> str:
    return "-" if value is None else f"{value:,.{digits}f}"


def _p(value: float) -> str:
    return "p < 0.001" if value <= 0.001 else f"p = {value:.3f}"


def _setup_rows(summary: dict[str, Any]) -> list[list[Any]]:
    return [["task", summary["task"]], ["data", summary["data"]], ["model", summary["model"]],
            ["methods", ", ".join(summary["methods"])], ["sizes", ", ".join(summary["sizes"])],
            ["seeds", ", ".join(str(s) for s in summary["seeds"])], ["test set", summary["test_note"]],
            ["written", datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")]]
