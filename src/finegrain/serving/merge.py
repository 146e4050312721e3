"""Merge a run's adapter into its base weights and export a plain Hugging Face model, with a parity check.

LoRA, AdaLoRA and IA3 fold into the base weights (``method.merge``); full, freeze, bitfit and
linear-probe runs already are plain models and are re-saved as they are. Prefix, prompt and
bottleneck adapters cannot fold into the weights and are refused. The exported folder opens
with ``AutoModelForSequenceClassification`` / ``AutoModelForTokenClassification`` and keeps
the label names; ``parity.json`` says how closely it reproduces the run on its validation split.

Example:
    >>> from finegrain.serving import merge_run
    >>> parity = merge_run("runs/reviews-lora", "exports/reviews")  # doctest: +SKIP
    >>> parity["max_abs_logit_diff"] < 1e-4, parity["label_agreement"]  # doctest: +SKIP
    (True, 1.0)
"""

from __future__ import annotations

import json
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import torch

from finegrain.config import load_config
from finegrain.data.labels import LabelMap
from finegrain.data.split import Split
from finegrain.errors import ConfigError, DataError
from finegrain.registry import METHODS
from finegrain.tasks.modeling import quiet_transformers
from finegrain.training.inference import predict_logits
from finegrain.training.predictor import Predictor, run_splits
from finegrain.training.run_dir import open_run_dir
from finegrain.training.setup import build_method, build_task, load_tokenizer

__all__ = ["merge_run", "parity_report", "PARITY_FILE"]

PARITY_FILE = "parity.json"


def merge_run(run_dir: str | Path, out_dir: str | Path) -> dict[str, Any]:
    """Export the run at ``run_dir`` as a plain model in ``out_dir``; return (and write) the parity report."""
    run = open_run_dir(run_dir)
    config = load_config(run.config)
    task, method = build_task(config), build_method(config)
    _check_mergeable(config.method.name)
    labels = LabelMap.load(run.labels)
    device = torch.device("cpu")  # fp32 on CPU: the parity numbers measure the merge, not the hardware
    with quiet_transformers():
        model = method.load(run.model, lambda path: task.build_model(path, labels)).to(device).eval()
    tokenizer = load_tokenizer(str(run.model), config.model.max_length)
    predictor = Predictor(run, config, task, labels, model, tokenizer, device)
    predictor.dtype = None  # fp32, whatever precision the run trained in
    split = _parity_split(predictor)
    features, before = predictor.logits(split)
    merge = getattr(method, "merge", None)
    merged = merge(model) if merge is not None else model
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    with quiet_transformers():
        merged.save_pretrained(out)
        tokenizer.save_pretrained(out)
        exported = task.build_model(str(out), labels).to(device).eval()
    after = predict_logits(exported, features, partial(task.collate, pad_id=tokenizer.pad_token_id or 0),
                           batch_size=64, device=device, dtype=None)
    report = {"run": str(run.path), "method": config.method.name, "merged": merge is not None,
              "output": str(out), "split": split.name,
              **parity_report(task, split, features, labels, before, after)}
    (out / PARITY_FILE).write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    return report


def parity_report(task: Any, split: Split, features: list[dict[str, Any]], labels: LabelMap,
                  before: list[np.ndarray], after: list[np.ndarray]) -> dict[str, Any]:
    """Max abs logit difference, argmax label agreement and the primary metric before/after."""
    diff = max(float(np.abs(a - b).max()) for a, b in zip(before, after, strict=True))
    same = np.concatenate([(a.argmax(-1) == b.argmax(-1)).reshape(-1) for a, b in zip(before, after)])
    metric = task.primary_metric
    return {"examples": len(split), "max_abs_logit_diff": diff, "label_agreement": float(same.mean()),
            "metric": metric, "metric_before": task.evaluate(split, features, before, labels)[metric],
            "metric_after": task.evaluate(split, features, after, labels)[metric]}


def _check_mergeable(name: str) -> None:
    if not METHODS.get(name).mergeable:
        mergeable = [n for n, cls in METHODS.items() if cls.mergeable]
        raise ConfigError(
            f"Method '{name}' cannot be merged into the base weights: its extra modules "
            "(virtual tokens or non-linear adapters) have no plain-weight equivalent.",
            where="method.name",
            hint=f"Methods that merge or are plain already: {', '.join(mergeable)}. Serve this run with "
                 "finegrain.load(run) instead.",
        )


def _parity_split(predictor: Predictor) -> Split:
    splits = run_splits(predictor)
    for name in ("validation", "test"):
        if name in splits:
            split = predictor.task.check(splits[name])
            predictor.task.check_labels(split, predictor.labels)
            return split
    raise DataError(f"The run at {predictor.run.path} has no validation or test data to check the merge on.")
