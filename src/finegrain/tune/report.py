"""A tune's record and report: ``tune.json``, ``report.md`` and ``report.html`` (the optimisation history and
the parameter importances as figures), with the command line that trains the best run again.

Importances are Optuna's fANOVA (a random forest over the finished trials: offline, a second or two).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from finegrain.rendering import markdown
from finegrain.rendering.figures import new_figure, save_figure

# The study report's renderer: one page style (blocks of text, tables and figures) for studies and tunes.
from finegrain.rendering.pages import Block, html_page, markdown_page
from finegrain.tasks.base import Task
from finegrain.training.checkpoint import write_json_atomic
from finegrain.tune.settings import TuneSpec
from finegrain.tune.trials import PRUNED_AT, SEED_SCORES

__all__ = ["summarize", "write_tune_report", "importances", "plot_history", "plot_importances"]


def importances(study: Any) -> tuple[dict[str, float], str | None]:
    """fANOVA importance of each parameter over the finished trials (summing to 1), or why there are none."""
    import optuna

    finished = study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))
    if len(finished) < 2:
        return {}, f"needs at least 2 finished trials ({len(finished)} finished)"
    evaluator = optuna.importance.FanovaImportanceEvaluator(seed=0)
    try:
        found = optuna.importance.get_param_importances(study, evaluator=evaluator)
    except (ValueError, RuntimeError) as error:
        return {}, str(error).splitlines()[0]
    return {key: round(float(value), 4) for key, value in found.items()}, None


def summarize(spec: TuneSpec, study: Any, task: Task, best_metrics: dict[str, Any], command: str, *,
              wall_seconds: float) -> dict[str, Any]:
    """What ``tune.json`` holds: every trial, the best one and its run's validation and test metrics."""
    best = study.best_trial
    scores, note = importances(study)
    trials = [_trial_record(trial) for trial in study.trials]
    counts: dict[str, int] = {}
    for record in trials:
        counts[record["state"]] = counts.get(record["state"], 0) + 1
    return {"task": spec.config.task.name, "method": spec.config.method.name, "data": spec.config.data.train,
            "metric": task.primary_metric, "greater_is_better": task.greater_is_better,
            "settings": spec.settings.model_dump(), "fingerprint": spec.fingerprint(),
            "space": {key: dimension.describe() for key, dimension in spec.space.items()},
            "config_file": spec.config_path, "search_file": spec.search_path,
            "counts": counts, "trials": trials, "importances": scores, "importance_note": note,
            "best": {"trial": best.number, "params": best.params, "trial_validation": best.value,
                     "validation": _scalars(best_metrics.get("validation")), "test": _scalars(best_metrics.get("test")),
                     "run": str(spec.output / "best"), "command": command},
            "wall_seconds": round(wall_seconds, 1)}


def _scalars(metrics: dict[str, Any] | None) -> dict[str, float] | None:
    """The numbers of a split's metrics (its tables and examples stay in the best run's metrics.json)."""
    if metrics is None:
        return None
    return {key: value for key, value in metrics.items()
            if isinstance(value, (int, float)) and not isinstance(value, bool)}


def _trial_record(trial: Any) -> dict[str, Any]:
    duration = trial.duration.total_seconds() if trial.duration is not None else None
    record = {"number": trial.number, "state": trial.state.name.lower(), "value": trial.value,
              "params": trial.params, "seconds": None if duration is None else round(duration, 1)}
    if trial.intermediate_values:
        record["last_reported"] = trial.intermediate_values[max(trial.intermediate_values)]
    for key in ("error", PRUNED_AT, SEED_SCORES):
        if key in trial.user_attrs:
            record[key] = trial.user_attrs[key]
    return record


def write_tune_report(root: Path, summary: dict[str, Any], study: Any) -> Path:
    """Write ``tune.json``, ``plots/*.png``, ``report.md`` and ``report.html``; return the HTML path."""
    write_json_atomic(root / "tune.json", summary)
    blocks = _blocks(root, summary)
    title = f"Tune: {summary['method']} on {summary['data']} ({summary['task']})"
    (root / "report.md").write_text(markdown_page(title, blocks, root), encoding="utf-8")
    path = root / "report.html"
    path.write_text(html_page(title, blocks), encoding="utf-8")
    return path


def _blocks(root: Path, summary: dict[str, Any]) -> list[Block]:
    best, metric = summary["best"], summary["metric"]
    counts = ", ".join(f"{n} {state}" for state, n in sorted(summary["counts"].items()))
    test = best["test"] or {}
    text = (f"Trial {best['trial']} is best, with validation {metric} {best['trial_validation']:.4f} ({counts}).\n"
            f"Trained again as {best['run']}: validation {metric} {_score(best['validation'], metric)}, test"
            f" {metric} {_score(test, metric)}. Trials never read the test split; this run scored it, once.")
    rows = [[key, _value(value), summary["space"].get(key, "")] for key, value in sorted(best["params"].items())]
    blocks = [Block("Best trial", text, ["parameter", "value", "searched"], rows),
              Block("Reproduce", f"The command that trains the best run:\n`{best['command']}`")]
    plots = root / "plots"
    blocks.append(Block("Optimisation history", f"Validation {metric} of each trial, and the best so far.",
                        image=plot_history(summary["trials"], metric, plots / "history.png",
                                           greater_is_better=summary["greater_is_better"])))
    if summary["importances"]:
        blocks.append(Block("Parameter importances", "fANOVA over the finished trials: the share of the score's "
                            "variance each parameter explains.", ["parameter", "importance"],
                            [[key, f"{value:.3f}"] for key, value in summary["importances"].items()],
                            image=plot_importances(summary["importances"], plots / "importances.png")))
    else:
        blocks.append(Block("Parameter importances", f"Not computed: {summary['importance_note']}."))
    blocks.append(Block("Trials", headers=["trial", "state", f"validation {metric}", "seconds", "parameters / error"],
                        rows=[_trial_row(trial) for trial in summary["trials"]]))
    settings = summary["settings"]
    blocks.append(Block("Setup", headers=["", ""], rows=[
        ["sampler", settings["sampler"]], ["pruner", settings["pruner"]], ["storage", settings["storage"]],
        ["trials", settings["trials"]], ["timeout", settings["timeout"] or "none"],
        ["wall time", f"{summary['wall_seconds']:.0f} s"], ["fingerprint", summary["fingerprint"]]]))
    return blocks


def _trial_row(trial: dict[str, Any]) -> list[Any]:
    shown = trial.get("error") or ", ".join(f"{k}={_value(v)}" for k, v in sorted(trial["params"].items()))
    value = trial["value"] if trial["value"] is not None else trial.get("last_reported")
    return [trial["number"], trial["state"], "-" if value is None else f"{value:.4f}",
            "-" if trial["seconds"] is None else trial["seconds"], markdown.truncate(shown, 200)]


def _score(metrics: dict[str, Any], metric: str) -> str:
    value = metrics.get(metric)
    return "-" if value is None else f"{value:.4f}"


def _value(value: Any) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def plot_history(trials: list[dict[str, Any]], metric: str, path: Path, *, greater_is_better: bool = True) -> Path:
    """Each finished trial's score (pruned ones at their last reported score, as crosses) and the best so far."""
    figure = new_figure((7.0, 4.0))
    axes = figure.add_subplot()
    complete = [(t["number"], t["value"]) for t in trials if t["state"] == "complete"]
    pruned = [(t["number"], t["last_reported"]) for t in trials if t["state"] == "pruned" and "last_reported" in t]
    if complete:
        axes.plot(*zip(*complete), "o", color="tab:blue", label="finished")
        pick = max if greater_is_better else min
        line, best = [], complete[0][1]
        for number, value in complete:
            best = pick(best, value)
            line.append((number, best))
        axes.step(*zip(*line), where="post", color="tab:green", label="best so far")
    if pruned:
        axes.plot(*zip(*pruned), "x", color="tab:red", label="pruned (last score)")
    axes.set_xlabel("trial")
    axes.set_ylabel(f"validation {metric}")
    axes.legend(loc="lower right")
    return save_figure(figure, path)


def plot_importances(scores: dict[str, float], path: Path) -> Path:
    figure = new_figure((6.0, 0.4 * len(scores) + 1.2))
    axes = figure.add_subplot()
    names = list(scores)[::-1]
    axes.barh(names, [scores[name] for name in names], color="tab:blue")
    axes.set_xlabel("importance (fANOVA)")
    return save_figure(figure, path)
