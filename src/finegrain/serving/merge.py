"""The merge step of every export: a run's model in fp32, its adapter folded in, and the parity check.

LoRA, AdaLoRA and IA3 fold into the base weights (``method.merge``); full, freeze, bitfit and
linear-probe runs already are plain models and are kept as they are. Prefix, prompt and
bottleneck adapters cannot fold into the weights and are refused, naming the methods that can.
:func:`finegrain.serving.export.export_run` writes the result as a Hugging Face folder or ONNX.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from finegrain.config import load_config
from finegrain.data.labels import LabelMap
from finegrain.data.split import Split
from finegrain.errors import ConfigError, DataError
from finegrain.registry import METHODS
from finegrain.tasks.modeling import quiet_transformers
from finegrain.training.predictor import Predictor, run_base_builder, run_splits
from finegrain.training.run_dir import open_run_dir
from finegrain.training.setup import build_method, build_task, load_tokenizer

__all__ = ["load_for_merge", "merged_model", "check_mergeable", "parity_split", "parity_report"]


def load_for_merge(run_dir: Any, *, base: str | None = None) -> tuple[Predictor, Any]:
    """The run as an fp32 CPU predictor (parity numbers measure the export, not the hardware) and
    its method; refuses methods that cannot merge before anything is loaded. ``base``: as for
    :func:`~finegrain.training.predictor.load_predictor`."""
    run = open_run_dir(run_dir)
    config = load_config(run.config, saved=True)
    check_mergeable(config.method.name)
    task, method = build_task(config), build_method(config)
    labels = LabelMap.load(run.labels)
    device = torch.device("cpu")
    with quiet_transformers():
        model = method.load(run.model, run_base_builder(run, config.model.name, task, labels, base=base))
    model = model.to(device).eval()
    tokenizer = load_tokenizer(str(run.model), config.model.max_length)
    predictor = Predictor(run, config, task, labels, model, tokenizer, device)
    predictor.dtype = None  # fp32, whatever precision the run trained in
    return predictor, method


def merged_model(method: Any, model: torch.nn.Module) -> tuple[torch.nn.Module, bool]:
    """The plain model (adapter folded in where the method has one) and whether a merge happened."""
    merge = getattr(method, "merge", None)
    return (merge(model), True) if merge is not None else (model, False)


def check_mergeable(name: str) -> None:
    if not METHODS.get(name).mergeable:
        mergeable = [n for n, cls in METHODS.items() if cls.mergeable]
        raise ConfigError(
            f"Method '{name}' cannot be merged into the base weights: its extra modules "
            "(virtual tokens or non-linear adapters) have no plain-weight equivalent, so it cannot be exported.",
            where="method.name",
            hint=f"Methods that merge or are plain already: {', '.join(mergeable)}. Serve this run as it is "
                 "(finegrain serve RUN, or finegrain.load(run)), or train it again with one of those.",
        )


def parity_split(predictor: Predictor) -> Split:
    """The run's validation split (else its test split), checked as training checked it."""
    splits = run_splits(predictor)
    for name in ("validation", "test"):
        if name in splits:
            split = predictor.task.check(splits[name])
            predictor.task.check_labels(split, predictor.labels)
            return split
    raise DataError(f"The run at {predictor.run.path} has no validation or test data to check the export on.")


def parity_report(task: Any, split: Split, features: list[dict[str, Any]], labels: LabelMap,
                  before: list[np.ndarray], after: list[np.ndarray]) -> dict[str, Any]:
    """Max abs logit difference, argmax label agreement and the primary metric before/after."""
    diff = max(float(np.abs(a - b).max()) for a, b in zip(before, after, strict=True))
    same = np.concatenate([(a.argmax(-1) == b.argmax(-1)).reshape(-1) for a, b in zip(before, after)])
    metric = task.primary_metric
    return {"examples": len(split), "max_abs_logit_diff": diff, "label_agreement": float(same.mean()),
            "metric": metric, "metric_before": task.evaluate(split, features, before, labels)[metric],
            "metric_after": task.evaluate(split, features, after, labels)[metric]}
