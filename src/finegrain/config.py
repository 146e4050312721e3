"""Typed run configuration: the source of truth for a run.

YAML is only how a run is stored. :func:`load_config` reads YAML (or a dict), applies dotted
``section.key=value`` overrides, validates everything at once and returns a :class:`RunConfig`.
Components (task, method) are picked by registered name with their parameters beside the name;
those parameters are validated by the component's own ``Params`` model.

Example:
    >>> cfg = load_config({"data": {"train": "bbc-news"}, "output": "runs/bbc"}, ["train.lr=1e-4"])
    >>> cfg.train.lr, cfg.method.name
    (0.0001, 'full')
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, get_args

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from finegrain.adversarial_config import AdversarialConfig
from finegrain.config_sources import merge_sections, parse_overrides, read_yaml
from finegrain.errors import ConfigError, FinegrainError
from finegrain.registry import METHODS, TASKS, suggest
from finegrain.searchable import searchable

__all__ = [
    "ComponentConfig",
    "ModelConfig",
    "DataColumn",
    "DataConfig",
    "AugmentConfig",
    "TrainConfig",
    "RunConfig",
    "load_config",
    "dump_config",
    "parse_overrides",
    "read_yaml",
    "merge_sections",
    "describe_errors",
    "RETIRED_TRAIN_KEYS",
    "retired_problems",
    "without_retired",
    "data_key_problems",
]

LOGGER = logging.getLogger("finegrain")
# Replaced by train.cpu_speedups (auto|off). A saved run's config may still hold them: dropped with a
# note when the run is read; a config being trained is refused. Delete this once no saved run has them.
RETIRED_TRAIN_KEYS = ("cpu_allocator", "compact_embeddings", "cpu_dropout", "cpu_fused_layers")


class Section(BaseModel):
    """A config section: unknown keys are errors."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class ComponentConfig(BaseModel):
    """A component chosen by registered name; its other keys are the component's parameters."""

    model_config = ConfigDict(extra="allow")
    name: str

    @property
    def params(self) -> dict[str, Any]:
        return dict(self.model_extra or {})


class ModelConfig(Section):
    name: str = "default"  # the embedded MiniLM-L6 (works offline)
    max_length: int = Field(128, ge=8)  # covers tweets and review sentences; news is truncated
    random_init: bool = False  # same architecture, random weights: the no-pretraining baseline


@dataclass(frozen=True)
class DataColumn:
    """A key of the data section that a task reads beyond ``text`` and ``label``: ``data.<key>`` names one
    of its columns (a task declares these as its ``data_columns``; the config accepts them for that task)."""

    key: str  # data.<key>, e.g. text_pair
    default: str  # the column read when data.<key> is unset
    what: str  # what the column holds, for messages: "the second text of each pair"
    # Names the column often has in published data (sentence2, question2): a task that does not read this
    # key refuses data with one, and says which task does.
    aliases: tuple[str, ...] = ()


class AugmentConfig(Section):
    """Edited copies of the training split (never validation or test); each value is a per-word probability."""

    typos: float = Field(0.0, ge=0, le=1)  # a letter replaced by a keyboard neighbour
    synonyms: float = Field(0.0, ge=0, le=1)  # a WordNet synonym (Debian's wordnet-base), EDA's replacement
    swap: float = Field(0.0, ge=0, le=1)  # swapped with another word (EDA's random swap)
    delete: float = Field(0.0, ge=0, le=1)  # deleted (EDA's random deletion)
    entity_swap: float = Field(0.0, ge=0, le=1)  # NER, per sentence: people and places renamed, tags kept
    copies: int = Field(1, ge=1, le=16)  # edited copies per training example (EDA uses 1-16)


class DataConfig(Section):
    # Keys beyond these are the task's own column keys (its data_columns), checked against the task by
    # load_config: unknown ones are refused there, with a "did you mean".
    model_config = ConfigDict(extra="allow", validate_assignment=True)
    train: str  # a file (csv, tsv, jsonl, parquet, saved HF dataset) or a built-in dataset name
    validation: str | None = None  # None: the built-in's split, or a stratified split of train
    test: str | None = None
    text: str = "text"
    label: str = "label"
    # CoNLL files: the tag's column (0 is the token, -1 the last); None: the last, said when there are 3+
    tag_column: int | None = None
    validation_fraction: float = Field(0.1, gt=0.0, lt=0.5)
    max_train_examples: int | None = Field(None, ge=2)  # stratified subsample of train
    augment: AugmentConfig | None = None  # edited copies of the training split (finegrain.robustness.augment)

    def chosen_columns(self, declared: Sequence[DataColumn] = ()) -> dict[str, str]:
        """Each column key (``text``, ``label`` and the task's ``declared`` ones) -> the user's column name."""
        extra = self.model_extra or {}
        return {"text": self.text, "label": self.label, **{c.key: extra.get(c.key, c.default) for c in declared}}


class TrainConfig(Section):
    epochs: float = Field(3.0, gt=0, json_schema_extra=searchable(1, 6, step=1))
    max_steps: int | None = Field(None, ge=1)  # overrides epochs when set
    # At least this many optimizer steps: more epochs on a tiny (few-shot) training set.
    min_steps: int | None = Field(None, ge=1)
    batch_size: int = Field(16, ge=1, json_schema_extra=searchable(choices=[8, 16, 32]))
    eval_batch_size: int = Field(64, ge=1)
    grad_accum: int = Field(1, ge=1)
    # None: the method's own default_lr (PEFT methods need a higher lr than full fine-tuning)
    lr: float | None = Field(None, gt=0, json_schema_extra=searchable(factor=10, log=True))
    weight_decay: float = Field(0.01, ge=0, json_schema_extra=searchable(0.0, 0.1))
    # below 1: fraction of the optimizer steps; else a step count
    warmup: float = Field(0.1, ge=0, json_schema_extra=searchable(0.0, 0.2))
    max_grad_norm: float | None = Field(1.0, gt=0)
    precision: Literal["auto", "bf16", "fp16", "fp32"] = "auto"  # auto: bf16 where the hardware has it
    group_by_length: bool = True  # less padding: batches of similar length, in shuffled order
    # auto: CPU training runs the speed-ups of training/speedups/ (the same training up to float rounding
    # and dropout's random stream); off: PyTorch's and transformers' own modules, as on a GPU.
    cpu_speedups: Literal["auto", "off"] = "auto"
    eval_every: int | None = Field(None, ge=1)  # optimizer steps; None: once per epoch
    patience: int | None = Field(None, ge=1)  # early stopping after this many evals without gain
    checkpoint_every: int | None = Field(None, ge=1)  # steps; None: at every evaluation
    seed: int = 0
    log_every: int = Field(10, ge=1)
    # experiment trackers that also get the log (pip install 'finegrain[tracking]'); files go to the run's tracking/
    report_to: list[Literal["tensorboard", "mlflow"]] = Field(default_factory=list)
    # a defence: fgm, pgd, freelb (embedding-output perturbations) or rdrop (adversarial_config.py); None: plain
    adversarial: AdversarialConfig | None = None

    @field_validator("cpu_speedups", mode="before")
    @classmethod
    def _yaml_booleans(cls, value: Any) -> Any:
        """YAML 1.1 reads an unquoted ``off`` as false (and ``on`` as true)."""
        if isinstance(value, bool):
            return "auto" if value else "off"
        return value


class RunConfig(Section):
    task: ComponentConfig = ComponentConfig(name="classification")
    model: ModelConfig = ModelConfig()
    method: ComponentConfig = ComponentConfig(name="full")
    data: DataConfig
    train: TrainConfig = TrainConfig()
    output: str

    @field_validator("task", "method", mode="before")
    @classmethod
    def _name_shorthand(cls, value: Any) -> Any:
        return {"name": value} if isinstance(value, str) else value

    def component_params(self, section: Literal["task", "method"]) -> BaseModel:
        """The validated ``Params`` of the task or method."""
        registry = TASKS if section == "task" else METHODS
        component: ComponentConfig = getattr(self, section)
        return registry.get(component.name).Params.model_validate(component.params)


def _models_in(annotation: Any) -> list[type[BaseModel]]:
    """The config models an annotation holds: itself, or the members of an Optional or a union."""
    if isinstance(annotation, type):
        return [annotation] if issubclass(annotation, BaseModel) else []
    return [model for argument in get_args(annotation) for model in _models_in(argument)]


def _walk(model: type[BaseModel] | None, loc: tuple) -> tuple[list[str], type[BaseModel] | None]:
    """``loc`` as the user writes it (without the tag pydantic adds after a union picked by ``name``), and
    the model of the section it ends in."""
    shown, parts = [], list(loc)
    while parts:
        key = str(parts.pop(0))
        shown.append(key)
        field = model.model_fields.get(key) if model is not None else None
        members = _models_in(field.annotation) if field is not None else []
        if len(members) > 1 and parts:  # the next part is the tag: the name of the member chosen
            tag = parts.pop(0)
            members = [m for m in members if "name" in m.model_fields and m.model_fields["name"].default == tag]
        model = members[0] if len(members) == 1 else None
    return shown, model


def describe_errors(error: ValidationError, prefix: str = "", model: type[BaseModel] | None = RunConfig) -> list[str]:
    """One line per problem, with the dotted location and a 'did you mean' for unknown keys."""
    lines = []
    for item in error.errors():
        shown, _ = _walk(model, tuple(item["loc"]))
        where = prefix + ".".join(shown)
        if item["type"] == "extra_forbidden":
            _, section = _walk(model, tuple(item["loc"])[:-1])
            choices = list(section.model_fields) if section is not None else []
            lines.append(
                f"{where}: unknown key.{suggest(shown[-1], choices)}"
                + (f" Valid keys: {', '.join(choices)}." if choices else " This section takes no such keys.")
            )
        elif item["type"] == "value_error" and "\n" in str(item.get("ctx", {}).get("error", "")):
            lines.extend(str(item["ctx"]["error"]).splitlines())
        else:
            got = item.get("input")
            shown = "" if isinstance(got, dict) else f" (got {got!r})"
            lines.append(f"{where}: {item['msg']}{shown}")
    return lines


def load_config(source: str | Path | dict[str, Any], overrides: list[str] | None = None, *,
                saved: bool = False) -> RunConfig:
    """Build and validate a :class:`RunConfig` from a YAML path or a dict plus dotted overrides.

    ``saved``: the config of a run already trained (for predict, evaluate, export), which may hold
    keys an older finegrain wrote: the retired ones are dropped with a note instead of refused.
    """
    where = None if isinstance(source, dict) else str(source)
    data = dict(source) if isinstance(source, dict) else read_yaml(source)
    data = merge_sections(data, parse_overrides(overrides or []))
    problems: list[str] = [] if saved else retired_problems(data)
    data = without_retired(data, note_for=(where or "the saved config") if saved else None)
    config = None
    try:
        config = RunConfig.model_validate(data)
    except ValidationError as error:
        problems.extend(describe_errors(error))
    problems.extend(_check_components(data))
    problems.extend(data_key_problems(data))
    if problems:
        raise ConfigError(
            f"{len(problems)} problem(s) in the config:\n  - " + "\n  - ".join(problems), where=where
        )
    config.task.name = TASKS.canonical(config.task.name)
    config.method.name = METHODS.canonical(config.method.name)
    _fill_task_params(config)
    _fill_data_columns(config.data, TASKS.get(config.task.name).data_columns)
    return config


def data_key_problems(data: Mapping[str, Any]) -> list[str]:
    """One problem line per key of the data section that is neither a DataConfig field nor a column key the
    task declares (its ``data_columns``), or that holds no column name. An unknown task is reported elsewhere."""
    section, task = data.get("data"), data.get("task", RunConfig.model_fields["task"].default.name)
    name = task.get("name") if isinstance(task, dict) else task
    if not isinstance(section, dict) or not isinstance(name, str) or name not in TASKS:
        return []
    declared = {column.key: column for column in TASKS.get(name).data_columns}
    fields = list(DataConfig.model_fields)
    problems = []
    for key, value in section.items():
        if key in fields:
            continue
        if key not in declared:
            valid = fields + list(declared)
            readers = [other for other, task_class in TASKS.items()
                       if any(column.key == key for column in task_class.data_columns)]
            fits = f" The {' and '.join(readers)} task reads it: set task: {readers[0]}." if readers else ""
            problems.append(f"data.{key}: unknown key for the '{TASKS.canonical(name)}' task.{suggest(key, valid)}"
                            f" Valid keys: {', '.join(valid)}.{fits}")
        elif not isinstance(value, str) or not value:
            problems.append(f"data.{key}: names a column ({declared[key].what}), so it must be a column name"
                            f" (got {value!r}).")
    return problems


def _fill_data_columns(data: DataConfig, declared: Sequence[DataColumn]) -> None:
    """Write the task's column keys left unset with their defaults, so the saved config shows what was read."""
    for column in declared:
        if column.key not in (data.model_extra or {}):
            setattr(data, column.key, column.default)


def _retired_in(data: dict[str, Any]) -> list[str]:
    train = data.get("train")
    return [key for key in RETIRED_TRAIN_KEYS if isinstance(train, dict) and key in train]


def retired_problems(data: dict[str, Any]) -> list[str]:
    """One problem line per retired key set in ``data``'s train section, naming what replaced it."""
    replaced = ", ".join(f"train.{key}" for key in RETIRED_TRAIN_KEYS)
    return [f"train.{key}: retired; train.cpu_speedups (auto or off) replaced {replaced}. Delete train.{key};"
            " set train.cpu_speedups: off for PyTorch's and transformers' own modules." for key in _retired_in(data)]


def without_retired(data: dict[str, Any], *, note_for: str | None = None) -> dict[str, Any]:
    """``data`` without the retired train keys; ``note_for`` (a saved run's config) gets a one-line note."""
    found = _retired_in(data)
    if not found:
        return data
    if note_for is not None:
        LOGGER.warning("finegrain: %s sets %s, retired (train.cpu_speedups replaced them); ignored.", note_for,
                       ", ".join(f"train.{key}" for key in found))
    return {**data, "train": {key: value for key, value in data["train"].items() if key not in found}}


def _fill_task_params(config: RunConfig) -> None:
    """Give the method its measured parameters for this task (its ``task_params``) where the config
    leaves them unset, so that the saved config shows what was trained."""
    per_task = METHODS.get(config.method.name).task_params.get(config.task.name, {})
    for key, value in per_task.items():
        if key not in config.method.params:
            setattr(config.method, key, value)


def _check_components(data: dict[str, Any]) -> list[str]:
    """Check the task and method names and their parameters against what is registered."""
    problems = []
    for section, registry in (("task", TASKS), ("method", METHODS)):
        value = data.get(section, RunConfig.model_fields[section].default.model_dump())
        value = {"name": value} if isinstance(value, str) else value
        if not isinstance(value, dict) or not isinstance(value.get("name"), str):
            continue  # the structural validation already reports this
        params = {key: item for key, item in value.items() if key != "name"}
        try:
            entry = registry.get(value["name"])
        except FinegrainError as error:
            problems.append(f"{section}.name: {error.message}")
            continue
        try:
            entry.Params.model_validate(params)
        except ValidationError as error:
            problems.extend(describe_errors(error, prefix=f"{section}.", model=entry.Params))
    return problems


def dump_config(config: RunConfig) -> str:
    """The resolved config as YAML, loadable again by :func:`load_config`."""
    data = config.model_dump(mode="json")
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True)
