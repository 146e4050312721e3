"""What a fine-tuning run records beside its model, whatever trains it: ``run.json``'s facts, the model
card's, the report's. Shared by the neural runner and the estimator runner, so both kinds of run sit in
the same tables; :class:`~finegrain.training.run_recorder.RunRecorder` writes them.
"""

from __future__ import annotations

import json
import platform
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any

from accelerate import Accelerator

from finegrain.config import RunConfig
from finegrain.data.labels import LabelMap
from finegrain.data.split import Split
from finegrain.errors import RunDirError
from finegrain.evaluation.model_card import FineTunedFacts, fine_tuned_card
from finegrain.models.base_reference import registered_description, registered_language
from finegrain.registry import TASKS
from finegrain.training.run_dir import RunDir

if TYPE_CHECKING:
    from huggingface_hub import ModelCard

__all__ = ["library_versions", "check_labels_unchanged", "run_info", "now", "report_info", "card_facts",
           "fine_tuned_model_card", "report_title", "folder_library"]


def library_versions() -> dict[str, str]:
    names = ("finegrain", "torch", "transformers", "accelerate", "peft", "datasets", "scikit-learn", "seqeval")
    versions = {"python": platform.python_version()}
    for name in names:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return versions


def check_labels_unchanged(run: RunDir, labels: LabelMap) -> None:
    if run.labels.is_file():
        saved = LabelMap.load(run.labels)
        if saved != labels:
            raise RunDirError(f"Cannot resume '{run.path}': the training data's labels changed "
                              f"(saved: {', '.join(saved.names)}; now: {', '.join(labels.names)}).",
                              hint="Resume with the same data, or use --overwrite.")


def run_info(config: RunConfig, model_path: str | None, labels: LabelMap, splits: dict[str, Split],
             accelerator: Accelerator, trainable: int, total: int, *, base_model: str | None) -> dict[str, Any]:
    """The ``run.json`` of a run that has started: what runs, where, on what, with how many parameters.

    ``base_model`` is the portable reference to the base model the run started from (None when it uses
    none), which adapter runs load again; ``model_path``, where it was on this machine, is only a hint (None:
    the method uses no encoder, so ``model.name`` was never resolved).
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
        "parameters": {"trainable": trainable, "total": total,  # total 0: a method with nothing fitted (identity)
                       "trainable_percent": round(100 * trainable / total, 4) if total else 0.0},
        "versions": library_versions(),
    }


def report_title(config: RunConfig) -> str:
    """The title of a fine-tuning run's ``report.md``."""
    return f"{config.task.name} · {config.method.name} · {Path(config.output).name}"


def fine_tuned_model_card(config: RunConfig, info: dict[str, Any], metrics: dict[str, dict[str, Any]],
                          model_dir: Path) -> ModelCard:
    """The model card (``model/README.md``) of a finished fine-tuning run."""
    return fine_tuned_card(card_facts(config, info, metrics, model_dir))


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
        metrics=metrics, version=info["versions"].get("finegrain", "unknown"),
        inputs=json.dumps(json.loads(task.serving.example)[task.serving.items], ensure_ascii=False))


def folder_library(model_dir: Path) -> str | None:
    """The library that opens ``model_dir`` alone: a PEFT adapter, a transformers model with its head,
    or None for finegrain's own formats (bottleneck adapters, estimators)."""
    adapter = model_dir / "adapter_config.json"
    if adapter.is_file():
        # PEFT loads a prefix-tuning adapter but its forward refuses encoders from transformers 5.24 on
        # (methods/peft/wrappers.py hands them the prefix instead): only finegrain runs it
        peft_type = json.loads(adapter.read_text(encoding="utf-8")).get("peft_type")
        return "peft" if peft_type not in (None, "PREFIX_TUNING") else None
    plain = (model_dir / "config.json").is_file() and not (model_dir / "head.safetensors").is_file()
    return "transformers" if plain else None


def report_info(info: dict[str, Any]) -> dict[str, Any]:
    # model_path None: the method reads texts itself (tfidf, char-ngram), so model.name was never used
    model = info["model"] if info.get("model_path", "") is not None else "none (the method uses no encoder)"
    shown = {"method": info["method"], "model": model, "device": info["device"],
             "precision": info["precision"], "learning rate": info.get("lr"),
             "trainable parameters": f"{info['parameters']['trainable']:,} ({info['parameters']['trainable_percent']}%)",
             "train seconds": info["timing"]["train_seconds"], "samples/s": info["timing"]["samples_per_second"],
             "best step": info.get("best_step"), "seed": info["seed"]}
    return {key: value for key, value in shown.items() if value is not None}


def now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")
