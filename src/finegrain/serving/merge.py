"""The merge step of every export: a run's model in fp32, its adapter folded in, and the parity check.

LoRA, AdaLoRA and IA3 fold into the base weights (``method.merge``); full, freeze, bitfit and
linear-probe runs already are plain models and are kept as they are. Prefix, prompt and
bottleneck adapters cannot fold into the weights and are refused, naming the methods that can.
:func:`finegrain.serving.export.export_run` writes the result as a Hugging Face folder or ONNX.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, NamedTuple, cast

import numpy as np
import torch

from finegrain.config import load_config
from finegrain.data.labels import LabelMap
from finegrain.data.split import Split
from finegrain.errors import ConfigError, DataError
from finegrain.methods.base import TrainedMethod
from finegrain.registry import METHODS
from finegrain.tasks.base import Feature, Task
from finegrain.tasks.modeling import quiet_transformers
from finegrain.training.logits_source import ModelLogits, TaskEncoding
from finegrain.training.predictor import Predictor, run_base_builder, run_splits
from finegrain.training.run_dir import open_run_dir
from finegrain.training.setup import build_method, build_task, load_tokenizer

__all__ = ["RunToMerge", "load_for_merge", "merged_model", "check_mergeable", "parity_split", "parity_report"]


class RunToMerge(NamedTuple):
    predictor: Predictor  # the run in fp32 on the CPU
    method: TrainedMethod
    weights: ModelLogits  # its PyTorch model and tokenizer, as the predictor runs them


def load_for_merge(run_dir: str | Path, *, base: str | None = None) -> RunToMerge:
    """The run as an fp32 CPU predictor (parity numbers measure the export, not the hardware), its
    method and model; refuses methods that cannot merge before anything is loaded. ``base``: as for
    :func:`~finegrain.training.predictor.load_predictor`."""
    run = open_run_dir(run_dir)
    config = load_config(run.config, saved=True)
    check_mergeable(config.method.name)
    task, method = build_task(config), cast(TrainedMethod, build_method(config))  # check_mergeable: trained only
    labels = LabelMap.load(run.labels)
    device = torch.device("cpu")
    with quiet_transformers():
        model = method.load(run.model, run_base_builder(run, config.model.name, task, labels, base=base))
    encoding = TaskEncoding(task, labels, load_tokenizer(str(run.model), config.model.max_length),
                            config.model.max_length)
    weights = ModelLogits(encoding, model.to(device).eval(), device, dtype=None)  # fp32, whatever the run trained in
    return RunToMerge(Predictor(run, config, task, labels, weights), method, weights)


def merged_model(method: TrainedMethod, model: torch.nn.Module) -> tuple[torch.nn.Module, bool]:
    """The plain model (adapter folded in where the method has one) and whether a merge happened."""
    merged = method.merge(model)
    return merged, merged is not model


def check_mergeable(name: str) -> None:
    """Refuse a method whose runs cannot become plain transformers weights (fitted methods never can)."""
    if not _mergeable(name):
        mergeable = [n for n in METHODS.names() if _mergeable(n)]
        raise ConfigError(
            f"Method '{name}' cannot be merged into the base weights: its extra modules "
            "(virtual tokens or non-linear adapters) have no plain-weight equivalent, so it cannot be exported.",
            where="method.name",
            hint=f"Methods that merge or are plain already: {', '.join(mergeable)}. Serve this run as it is "
                 "(finegrain serve RUN, or finegrain.load(run)), or train it again with one of those.",
        )


def _mergeable(name: str) -> bool:
    return METHODS.protocol(name) is TrainedMethod and METHODS.get(name).mergeable


def parity_split(predictor: Predictor) -> Split:
    """The run's validation split (else its test split), checked as training checked it."""
    splits = run_splits(predictor)
    for name in ("validation", "test"):
        if name in splits:
            split = predictor.task.check(splits[name])
            predictor.task.check_labels(split, predictor.labels)
            return split
    raise DataError(f"The run at {predictor.run.path} has no validation or test data to check the export on.")


def parity_report(task: Task, split: Split, features: list[Feature], labels: LabelMap,
                  before: list[np.ndarray], after: list[np.ndarray]) -> dict[str, Any]:
    """Max abs logit difference, argmax label agreement and the primary metric before/after."""
    diff = max(float(np.abs(a - b).max()) for a, b in zip(before, after, strict=True))
    same = np.concatenate([(a.argmax(-1) == b.argmax(-1)).reshape(-1) for a, b in zip(before, after)])
    metric = task.primary_metric
    return {"examples": len(split), "max_abs_logit_diff": diff, "label_agreement": float(same.mean()),
            "metric": metric, "metric_before": task.evaluate(split, features, before, labels)[metric],
            "metric_after": task.evaluate(split, features, after, labels)[metric]}
