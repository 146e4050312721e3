"""Everything a run needs before training, checked before anything is written to disk."""

from __future__ import annotations

import logging
import re
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from transformers import AutoTokenizer

from finegrain.config import DataConfig, RunConfig
from finegrain.data.labels import LabelMap
from finegrain.data.sources import load_splits
from finegrain.data.split import Split
from finegrain.errors import ConfigError, ModelError
from finegrain.methods.base import Method, is_fitted, supporting_methods
from finegrain.models.base_reference import portable_reference
from finegrain.models.catalog import model_max_positions, resolve_model
from finegrain.registry import METHODS, TASKS
from finegrain.tasks.base import Task

__all__ = ["Prepared", "prepare", "build_task", "build_method", "load_tokenizer", "read_splits", "configured_splits",
           "task_columns", "foreign_columns", "warn_unknown_tokens", "check_adversarial"]

LOGGER = logging.getLogger("finegrain")
# Above this share of [UNK] the vocabulary misses the data's script (an English model on Chinese text maps
# most characters to [UNK]); real English text through an English vocabulary stays far below it.
_UNKNOWN_SHARE = 0.05
_UNKNOWN_SAMPLE = 5000  # features counted: enough for the share, quick on a large training set
_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")


@dataclass
class Prepared:
    task: Task
    method: Method
    model_path: str | None  # None for a method without an encoder (tfidf, char-ngram, symspell): nothing resolved
    tokenizer: Any  # None with model_path
    splits: dict[str, Split]
    labels: LabelMap
    features: dict[str, list[dict[str, Any]]]  # empty without an encoder: such a method reads the texts itself
    base_reference: str | None  # how the run records its base model (models/base_reference.py); None: none


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


def task_columns(task: Task, data: DataConfig) -> dict[str, str]:
    """Canonical column -> the user's column, as the data section names them for ``task``."""
    return task.columns(data.chosen_columns(task.data_columns))


def foreign_columns(task: Task) -> dict[str, str]:
    """The columns that mark data for another task -> that task: the columns another task declares (its
    ``data_columns``' defaults and aliases) for a key that ``task`` does not read."""
    own = {column.key for column in task.data_columns}
    return {name: other for other, cls in TASKS.items() if other != task.name
            for column in cls.data_columns if column.key not in own for name in (column.default, *column.aliases)}


def configured_splits(task: Task, data: DataConfig, seed: int) -> dict[str, Split]:
    """The splits the data section describes, as read from disk (not yet checked by the task)."""
    return load_splits(data.train, data.validation, data.test, columns=task_columns(task, data),
                       stratify=task.stratify, validation_fraction=data.validation_fraction,
                       max_train_examples=data.max_train_examples, seed=seed, tag_column=data.tag_column,
                       foreign=foreign_columns(task))


def read_splits(task: Task, data: DataConfig, seed: int) -> dict[str, Split]:
    """Load the configured splits and check their content with the task."""
    return {name: task.check(split) for name, split in configured_splits(task, data, seed).items()}


def prepare(config: RunConfig) -> Prepared:
    """Resolve the model, read and check the data, build labels and features; no disk writes. A method without
    an encoder (``encoder = "none"``) leaves ``model.name`` alone: nothing is resolved, built or tokenized."""
    task, method = build_task(config), build_method(config)
    encoder_free = is_fitted(method) and method.encoder == "none"
    model_path = None if encoder_free else resolve_model(config.model.name)
    tokenizer = None if model_path is None else load_tokenizer(model_path, config.model.max_length)
    method.check_against(config.model.max_length)
    method.check_task(task)
    check_adversarial(config, method)
    splits = read_splits(task, config.data, config.train.seed)
    if config.data.augment is not None:
        from finegrain.robustness.augment import augment_split  # the perturbations load only when asked for

        splits["train"] = augment_split(task, splits["train"], config.data.augment, config.train.seed)
    labels = task.label_map(splits["train"])
    for name, split in splits.items():
        if name != "train":
            task.check_labels(split, labels)
    if model_path is None:
        return Prepared(task, method, None, None, splits, labels, {}, None)
    features = {name: task.encode(split, tokenizer, labels, config.model.max_length) for name, split in splits.items()}
    warn_unknown_tokens(tokenizer, features["train"], task.predict_inputs(splits["train"]), config.model.name)
    reference = portable_reference(config.model.name, model_path, Path(config.output))
    return Prepared(task, method, model_path, tokenizer, splits, labels, features, reference)


def check_adversarial(config: RunConfig, method: Method) -> None:
    """``train.adversarial`` perturbs what the loop trains: a fitted method (an estimator) has nothing to perturb."""
    if config.train.adversarial is not None and is_fitted(method):
        trained = ", ".join(supporting_methods(config.task.name, trained_only=True))
        raise ConfigError(f"train.adversarial ({config.train.adversarial.name}) needs a method the training loop"
                          f" trains; '{config.method.name}' is fitted on texts (an estimator) and has no passes to"
                          " perturb.", hint=f"Remove train.adversarial, or set method.name to one of: {trained}.")


def warn_unknown_tokens(tokenizer: Any, features: list[dict[str, Any]], examples: list[Any], model: str) -> None:
    """Warn when the tokenizer maps much of the training text to its unknown token: the model would train on
    [UNK]s. The share is said; Chinese text (by its characters) gets a Chinese model suggested."""
    unknown = tokenizer.unk_token_id
    if unknown is None:
        return
    special = set(tokenizer.all_special_ids) - {unknown}
    tokens = [token for feature in features[:_UNKNOWN_SAMPLE] for token in feature["input_ids"] if token not in special]
    share = sum(token == unknown for token in tokens) / max(len(tokens), 1)
    if share < _UNKNOWN_SHARE:
        return
    characters = "".join(text for example in examples[:_UNKNOWN_SAMPLE] for text in _strings(example)).replace(" ", "")
    chinese = len(_CJK.findall(characters)) > 0.3 * max(len(characters), 1)
    fix = ("a model whose vocabulary covers Chinese, e.g. model.name=zh-small (finegrain models list shows the"
           " others)" if chinese else "a model whose vocabulary covers the data's language (finegrain models list)")
    LOGGER.warning("finegrain: %.0f%% of the training tokens are %s for model '%s'%s: its vocabulary does not cover"
                   " this text, so the model sees little of it. Use %s.", 100 * share, tokenizer.unk_token, model,
                   " (the data is Chinese)" if chinese else "", fix)


def _strings(value: Any) -> Iterator[str]:
    """The texts an example holds: itself, or those of a pair or token list."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, (list, tuple)):
        for item in value:
            yield from _strings(item)
