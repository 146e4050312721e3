"""What every run writes beside its model, whatever trains it: ``run.json``, ``metrics.json``, ``report.md``.

Shared by the neural runner and the estimator runner, so both kinds of run sit in the same tables.
"""

from __future__ import annotations

import json
import platform
import time
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path
from typing import Any

from accelerate import Accelerator

from finegrain.config import RunConfig, dump_config
from finegrain.data.labels import LabelMap
from finegrain.data.split import Split
from finegrain.errors import RunDirError
from finegrain.evaluation.model_card import FineTunedFacts, fine_tuned_card, write_model_card
from finegrain.evaluation.report import write_report
from finegrain.models.base_reference import registered_description, registered_language
from finegrain.registry import TASKS
from finegrain.training.checkpoint import write_json_atomic
from finegrain.training.run_dir import RunDir, prepare_run_dir, run_dir_for

__all__ = ["library_versions", "open_output", "check_labels_unchanged", "run_info", "finish_run", "now", "report_info",
           "card_facts", "folder_library"]


def library_versions() -> dict[str, str]:
    names = ("finegrain", "torch", "transformers", "accelerate", "peft", "datasets", "scikit-learn", "seqeval")
    versions = {"python": platform.python_version()}
    for name in names:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return versions


def open_output(accelerator: Accelerator, config: RunConfig, *, resume: bool, overwrite: bool) -> RunDir:
    run = None
    if accelerator.is_main_process:
        run = prepare_run_dir(config.output, dump_config(config), resume=resume, overwrite=overwrite)
    accelerator.wait_for_everyone()
    return run or run_dir_for(config.output, overwrite=overwrite)


def check_labels_unchanged(run: RunDir, labels: LabelMap) -> None:
    if run.labels.is_file():
        saved = LabelMap.load(run.labels)
        if saved != labels:
            raise RunDirError(f"Cannot resume '{run.path}': the training data's labels changed "
                              f"(saved: {', '.join(saved.names)}; now: {', '.join(labels.names)}).",
                              hint="Resume with the same data, or use --overwrite.")


def run_info(config: RunConfig, model_path: str, labels: LabelMap, splits: dict[str, Split], accelerator: Accelerator,
             trainable: int, total: int, *, base_model: str | None) -> dict[str, Any]:
    """The ``run.json`` of a run that has started: what runs, where, on what, with how many parameters.

    ``base_model`` is the portable reference to the base model the run started from (None when it uses
    none), which adapter runs load again; ``model_path``, where it was on this machine, is only a hint.
    """
    return {
        "status": "running",
        "started_at": now(),
        "task": config.task.name,
        "method": config.method.name,
        "model": config.model.name,
        "model_path": model_path,
        **({} if base_model is None else {"base_model": base_model}),
        "seed": config.train.seed,
        "device": str(accelerator.device),
        "precision": accelerator.mixed_precision,
        "num_processes": accelerator.num_processes,
        "labels": list(labels.names),
        "data": {name: {"source": split.source, "examples": len(split)} for name, split in splits.items()},
        "parameters": {"trainable": trainable, "total": total, "trainable_percent": round(100 * trainable / total, 4)},
        "versions": library_versions(),
    }


def finish_run(run: RunDir, config: RunConfig, info: dict[str, Any], metrics: dict[str, dict[str, Any]], *,
               train_seconds: float, samples: int, peak_memory_mb: float, peak_rss_mb: float | None = None,
               started: float) -> None:
    """Record costs (time, samples/s, memory, size on disk) and write the model card (``model/README.md``),
    metrics, report and ``run.json``.

    ``started`` is the ``time.perf_counter()`` at which this session began.
    """
    write_model_card(run.model, fine_tuned_card(card_facts(config, info, metrics, run.model)))
    info.update(status="finished", finished_at=now(),
                timing={"train_seconds": round(train_seconds, 2),
                        "samples_per_second": round(samples / max(train_seconds, 1e-9), 2),
                        "wall_seconds_this_session": round(time.perf_counter() - started, 2)},
                peak_memory_mb=round(peak_memory_mb, 1),
                **({} if peak_rss_mb is None else {"peak_rss_mb": round(peak_rss_mb, 1)}),
                model_size_mb=round(sum(f.stat().st_size for f in run.model.rglob("*") if f.is_file()) / 2**20, 2))
    write_json_atomic(run.metrics, metrics)
    write_report(run.path, metrics, TASKS.get(config.task.name).report,
                 title=f"{config.task.name} · {config.method.name} · {Path(config.output).name}", run_info=report_info(info))
    write_json_atomic(run.info, info)


def card_facts(config: RunConfig, info: dict[str, Any], metrics: dict[str, dict[str, Any]],
               model_dir: Path) -> FineTunedFacts:
    """What the model card of a finished run says, from its ``run.json`` and metrics."""
    task = TASKS.get(config.task.name)
    return FineTunedFacts(
        name=Path(config.output).resolve().name, task=task.name, pipeline_tag=task.pipeline_tag,
        primary_metric=task.primary_metric, labels=list(info["labels"]), method=info["method"],
        trainable=info["parameters"]["trainable"], total=info["parameters"]["total"],
        base_model=info.get("base_model"), base_description=registered_description(info.get("base_model")),
        language=registered_language(info.get("base_model")),
        library_name=folder_library(model_dir),
        data={name: (part["source"], part["examples"]) for name, part in info["data"].items()},
        metrics=metrics, version=info["versions"].get("finegrain", "unknown"))


def folder_library(model_dir: Path) -> str | None:
    """The library that opens ``model_dir`` alone: a PEFT adapter, a transformers model with its head,
    or None for finegrain's own formats (bottleneck adapters, estimators)."""
    adapter = model_dir / "adapter_config.json"
    if adapter.is_file():
        return "peft" if "peft_type" in json.loads(adapter.read_text(encoding="utf-8")) else None
    plain = (model_dir / "config.json").is_file() and not (model_dir / "head.safetensors").is_file()
    return "transformers" if plain else None


def report_info(info: dict[str, Any]) -> dict[str, Any]:
    shown = {"method": info["method"], "model": info["model"], "device": info["device"],
             "precision": info["precision"], "learning rate": info.get("lr"),
             "trainable parameters": f"{info['parameters']['trainable']:,} ({info['parameters']['trainable_percent']}%)",
             "train seconds": info["timing"]["train_seconds"], "samples/s": info["timing"]["samples_per_second"],
             "best step": info.get("best_step"), "seed": info["seed"]}
    return {key: value for key, value in shown.items() if value is not None}


def now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")
