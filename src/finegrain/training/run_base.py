"""A run's base model, found again when the run is loaded (see :mod:`finegrain.models.base_reference`).

Adapter methods hand the reference they recorded to the model builder made here; it is resolved
against the run directory (or replaced by the user's ``--base``), and the model built from it keeps
the reference as its name, so that what is recorded never becomes a machine's absolute path.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from finegrain.data.labels import LabelMap
from finegrain.methods.base import name_base_model
from finegrain.models.base_reference import locate_base
from finegrain.registry import MODELS
from finegrain.tasks.base import Task
from finegrain.training.run_dir import RunDir

__all__ = ["base_builder", "run_base_path", "run_hints", "BaseBuilder"]

BaseBuilder = Callable[[str], torch.nn.Module]


def base_builder(task: Task, labels: LabelMap, run: RunDir, *, base: str | None = None,
                 hints: tuple[str, ...] = ()) -> BaseBuilder:
    """The ``build_base`` a method's ``load`` calls: the task's model from a recorded reference.

    Plain methods (full, freeze, bitfit, linear-probe) ask for the run's own ``model/`` folder
    through the same builder; that one is built as it is, whatever ``base`` says. ``hints`` are
    tried when the recorded reference fails (:func:`run_hints`).
    """
    def build(recorded: str) -> torch.nn.Module:
        if Path(recorded).resolve() == run.model.resolve():
            return task.build_model(recorded, labels)
        where = locate_base(recorded, run.path, base=base, hints=hints)
        model = task.build_model(where, labels)
        name_base_model(model, recorded)
        return model

    return build


def run_base_path(run: RunDir, model_name: str, *, base: str | None = None) -> str:
    """Where the base model that ``run.json`` records is now (for estimators that load it again)."""
    return locate_base(_info(run).get("base_model"), run.path, base=base, hints=run_hints(run, model_name))


def run_hints(run: RunDir, model_name: str) -> tuple[str, ...]:
    """The absolute folder the run trained from, then the configured name when it is a registered one
    (runs from before references were recorded hold only an absolute path)."""
    return tuple(hint for hint in (_info(run).get("model_path"), model_name if model_name in MODELS else None) if hint)


def _info(run: RunDir) -> dict[str, Any]:
    return json.loads(run.info.read_text(encoding="utf-8")) if run.info.is_file() else {}
