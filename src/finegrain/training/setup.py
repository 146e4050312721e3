"""Everything a run needs before training, checked before anything is written to disk."""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from transformers import AutoTokenizer

from finegrain.config import DataConfig, RunConfig
from finegrain.data.labels import LabelMap
from finegrain.data.sources import load_splits
from finegrain.data.split import Split
from finegrain.errors import ConfigError, ModelError
from finegrain.methods.base import Method
from finegrain.models.base_reference import portable_reference
from finegrain.models.catalog import model_max_positions, resolve_model
from finegrain.registry import METHODS, TASKS
from finegrain.tasks.base import Task

__all__ = ["Prepared", "prepare", "build_task", "build_method", "load_tokenizer", "read_splits", "configured_splits"]


@dataclass
class Prepared:
    task: Task
    method: Method
    model_path: str
    tokenizer: Any
    splits: dict[str, Split]
    labels: LabelMap
    features: dict[str, list[dict[str, Any]]]
    base_reference: str  # how the run records its base model (models/base_reference.py)


def build_task(config: RunConfig) -> Task:
    return TASKS.get(config.task.name)(config.component_params("task"))


def build_method(config: RunConfig) -> Method:
    return METHODS.get(config.method.name)(config.component_params("method"))


def load_tokenizer(model_path: str, max_length: int) -> Any:
    limit = model_max_positions(model_path)
    if limit is not None and max_length > limit:
        raise ConfigError(f"model.max_length={max_length} is larger than the model allows ({limit} positions).",
                          hint=f"Set model.max_length to {limit} or less.")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            tokenizer = AutoTokenizer.from_pretrained(model_path, trust_remote_code=False)
    except (OSError, ValueError) as error:
        raise ModelError(f"Could not load a tokenizer from '{model_path}': {str(error).splitlines()[0]}",
                         hint="The model folder needs its tokenizer files (tokenizer.json or vocab.txt).") from None
    if not getattr(tokenizer, "is_fast", False):
        raise ModelError(f"The tokenizer of '{model_path}' is not a fast (Rust) tokenizer.",
                         hint="finegrain needs a fast tokenizer: save one with tokenizer.json in the model folder.")
    tokenizer.model_max_length = max_length
    return tokenizer


def configured_splits(task: Task, data: DataConfig, seed: int) -> dict[str, Split]:
    """The splits the data section describes, as read from disk (not yet checked by the task)."""
    return load_splits(data.train, data.validation, data.test, columns=task.columns(data.text, data.label),
                       stratify=task.stratify, validation_fraction=data.validation_fraction,
                       max_train_examples=data.max_train_examples, seed=seed, tag_column=data.tag_column)


def read_splits(task: Task, data: DataConfig, seed: int) -> dict[str, Split]:
    """Load the configured splits and check their content with the task."""
    return {name: task.check(split) for name, split in configured_splits(task, data, seed).items()}


def prepare(config: RunConfig) -> Prepared:
    """Resolve the model, read and check the data, build labels and features; no disk writes."""
    task, method = build_task(config), build_method(config)
    model_path = resolve_model(config.model.name)
    tokenizer = load_tokenizer(model_path, config.model.max_length)
    method.check_against(config.model.max_length)
    method.check_task(task)
    splits = read_splits(task, config.data, config.train.seed)
    labels = task.label_map(splits["train"])
    for name, split in splits.items():
        if name != "train":
            task.check_labels(split, labels)
    features = {name: task.encode(split, tokenizer, labels, config.model.max_length) for name, split in splits.items()}
    reference = portable_reference(config.model.name, model_path, Path(config.output))
    return Prepared(task, method, model_path, tokenizer, splits, labels, features, reference)
