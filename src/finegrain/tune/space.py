"""The search space: the default one from the ranges the config fields declare, and a user's ``search:`` block.

Every dimension is named by its dotted config key (``train.lr``, ``method.r``), as overrides on the command
line are, so a trial's values are overrides of the base config and the best trial is one command line.
The default space holds what the run's method can use: the training settings, the task's and the method's
declared parameters for a method the loop trains; a fitted method's own parameters (and ``train.lr`` where it
fine-tunes through the loop).

Example:
    >>> from finegrain.config import load_config
    >>> config = load_config({"data": {"train": "x.csv"}, "method": "lora", "output": "runs/x"})
    >>> space = build_space(config, {"data": {"train": "x.csv"}, "method": "lora", "output": "runs/x"},
    ...                     {"method.r": [4, 8]})
    >>> space["method.r"].choices, space["train.lr"].log
    ((4, 8), True)
"""

from __future__ import annotations

import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel
from pydantic.fields import FieldInfo

from finegrain.config import ModelConfig, RunConfig, TrainConfig, load_config, merge_sections
from finegrain.errors import ConfigError
from finegrain.methods.base import FittedMethod
from finegrain.registry import METHODS, TASKS, suggest
from finegrain.searchable import declared_search
from finegrain.training.optim import resolve_lr

__all__ = ["Dimension", "build_space", "default_space", "overrides_of", "SECTIONS"]

SECTIONS = ("train", "task", "method", "model")  # the sections a search may tune; data and output are fixed
Kind = Literal["float", "int", "categorical"]


@dataclass(frozen=True)
class Dimension:
    """One searched parameter: a range (``low`` to ``high``, ``log``-uniform or on a ``step`` grid) or ``choices``."""

    key: str
    kind: Kind
    low: float | None = None
    high: float | None = None
    log: bool = False
    step: float | None = None
    choices: tuple[Any, ...] = ()

    def suggest(self, trial: Any) -> Any:
        """The trial's value (an ``optuna.Trial``)."""
        if self.kind == "categorical":
            return trial.suggest_categorical(self.key, list(self.choices))
        if self.kind == "int":
            return trial.suggest_int(self.key, int(self.low), int(self.high), log=self.log,
                                     step=int(self.step or 1))
        return trial.suggest_float(self.key, float(self.low), float(self.high), log=self.log, step=self.step)

    def describe(self) -> str:
        if self.kind == "categorical":
            return "one of " + ", ".join(str(choice) for choice in self.choices)
        scale = ", log scale" if self.log else (f", step {self.step:g}" if self.step else "")
        return f"{self.low:g} to {self.high:g} ({self.kind}{scale})"

    def as_dict(self) -> dict[str, Any]:
        if self.kind == "categorical":
            return {"choices": list(self.choices)}
        return {"low": self.low, "high": self.high, "log": self.log, "step": self.step, "kind": self.kind}


def overrides_of(values: Mapping[str, Any]) -> dict[str, Any]:
    """``{"train.lr": 1e-4, "method.r": 8}`` as nested config sections ``{"train": {"lr": ...}, ...}``."""
    nested: dict[str, Any] = {}
    for key, value in values.items():
        section, _, field = key.partition(".")
        nested.setdefault(section, {})[field] = value
    return nested


def build_space(config: RunConfig, base: Mapping[str, Any], search: Mapping[str, Any], *,
                use_defaults: bool = True, lines: Mapping[str, str] | None = None) -> dict[str, Dimension]:
    """The default space (unless ``use_defaults`` is False) with the user's ``search`` entries over it.

    ``base`` is the run config as written (it checks each bound against the parameter's own constraints);
    an entry set to ``null`` or ``false`` keeps that parameter at the config's value. ``lines`` maps a search
    key to where it was written (``file:line``), for errors. Every problem is reported at once.
    """
    space = default_space(config) if use_defaults else {}
    problems: list[str] = []
    for key, entry in search.items():
        where = (lines or {}).get(key, f"search.{key}")
        try:
            dimension = _user_dimension(config, base, str(key), entry)
        except ConfigError as error:
            problems.append(f"{where}: {error.message}")
            continue
        if dimension is None:
            space.pop(str(key), None)
        else:
            space[str(key)] = dimension
    if problems:
        raise ConfigError(f"{len(problems)} problem(s) in the search space:\n  - " + "\n  - ".join(problems),
                          hint="Name parameters as section.key (train.lr, method.r); give {low: .., high: ..}"
                               " (log: true for a log scale), a list of choices, or null to keep the config's value.")
    if not space:
        raise ConfigError("The search space is empty: nothing to tune.",
                          hint="Add parameters to the search: block, e.g."
                               " train.lr: {low: 1e-5, high: 1e-3, log: true}.")
    return space


def default_space(config: RunConfig) -> dict[str, Dimension]:
    """The ranges declared on the fields of the sections the run's method uses (see the module docstring)."""
    method = METHODS.get(config.method.name)
    fitted = METHODS.protocol(config.method.name) is FittedMethod
    sections: list[tuple[str, type[BaseModel]]] = [("method", method.Params)]
    if not fitted:
        sections = [("train", TrainConfig), ("task", TASKS.get(config.task.name).Params), *sections]
    space = {}
    for section, model in sections:
        for name, field in model.model_fields.items():
            spec = declared_search(field)
            if spec is None or (fitted and section == "train"):
                continue
            space[f"{section}.{name}"] = _declared_dimension(f"{section}.{name}", field, spec, config)
    if fitted and method.default_lr is not None:  # a fitted method that fine-tunes through the loop
        field = TrainConfig.model_fields["lr"]
        space["train.lr"] = _declared_dimension("train.lr", field, declared_search(field) or {}, config)
    return space


def _declared_dimension(key: str, field: FieldInfo, spec: dict[str, Any], config: RunConfig) -> Dimension:
    kind, values = _field_kind(field)
    if spec.get("every_choice"):
        return Dimension(key, "categorical", choices=values)
    if "choices" in spec:
        return Dimension(key, "categorical", choices=tuple(spec["choices"]))
    if "factor" in spec:  # within a factor of the run's own value: the learning rate, by method
        current = resolve_lr(config.train, METHODS.get(config.method.name), config.task.name)
        return Dimension(key, kind, current / spec["factor"], current * spec["factor"], log=spec.get("log", False))
    return Dimension(key, kind, spec["low"], spec["high"], log=spec.get("log", False), step=spec.get("step"))


def _field_kind(field: FieldInfo) -> tuple[Kind, tuple[Any, ...]]:
    """How a field is searched (its annotation, ``None`` aside) and, for a Literal or bool, its values."""
    annotation = field.annotation
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        annotation = next(arg for arg in typing.get_args(annotation) if arg is not type(None))
    if typing.get_origin(annotation) is Literal:
        return "categorical", typing.get_args(annotation)
    if annotation is bool:
        return "categorical", (False, True)
    if annotation is int:
        return "int", ()
    if annotation is float:
        return "float", ()
    return "categorical", ()


def _section_model(config: RunConfig, section: str) -> type[BaseModel]:
    if section == "train":
        return TrainConfig
    if section == "model":
        return ModelConfig
    component = config.task if section == "task" else config.method
    registry = TASKS if section == "task" else METHODS
    return registry.get(component.name).Params


def _user_dimension(config: RunConfig, base: Mapping[str, Any], key: str, entry: Any) -> Dimension | None:
    """One ``search:`` entry checked against the parameter it names; None: not searched."""
    section, dot, name = key.partition(".")
    if not dot or section not in SECTIONS:
        raise ConfigError(f"'{key}' is not a section.key name of a searchable parameter"
                          f" (sections: {', '.join(SECTIONS)}).")
    model = _section_model(config, section)
    if name not in model.model_fields:
        owner = {"task": f"task '{config.task.name}'", "method": f"method '{config.method.name}'"}.get(
            section, f"the {section} section")
        fields = list(model.model_fields)
        listed = ", ".join(fields) if fields else "none"
        raise ConfigError(f"{owner} has no parameter '{name}'.{suggest(name, fields)} Its parameters: {listed}.")
    if entry is None or entry is False:
        return None
    kind, values = _field_kind(model.model_fields[name])
    dimension = _parse_entry(key, kind, values, entry)
    _check_in_range(base, dimension)
    return dimension


def _parse_entry(key: str, kind: Kind, values: tuple[Any, ...], entry: Any) -> Dimension:
    if isinstance(entry, list):
        entry = {"choices": entry}
    if not isinstance(entry, dict):
        raise ConfigError(f"expected {{low: .., high: ..}}, a list of choices or null, found {entry!r}.")
    unknown = sorted(set(entry) - {"low", "high", "log", "step", "choices"})
    if unknown:
        raise ConfigError(f"unknown key '{unknown[0]}'.{suggest(unknown[0], ['low', 'high', 'log', 'step', 'choices'])}"
                          " Valid keys: low, high, log, step, choices.")
    if "choices" in entry:
        choices = entry["choices"]
        if not isinstance(choices, list) or not choices or any(isinstance(c, (list, dict)) for c in choices):
            raise ConfigError(f"choices must be a non-empty list of single values, found {choices!r}.")
        return Dimension(key, "categorical", choices=tuple(_number(c) if kind != "categorical" else c for c in choices))
    if kind == "categorical":
        shown = f" ({', '.join(map(str, values))})" if values else ""
        raise ConfigError(f"this parameter takes choices{shown}, not a range: write a list of choices.")
    low, high, step = (_number(entry.get(name)) for name in ("low", "high", "step"))
    log = bool(entry.get("log", False))
    if not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in (low, high)):
        raise ConfigError(f"a range needs numbers low and high, found low={low!r}, high={high!r}.")
    if low >= high:
        raise ConfigError(f"low ({low}) must be below high ({high}).")
    if log and step is not None:
        raise ConfigError("a range takes log: true or a step, not both.")
    if log and low <= 0:
        raise ConfigError(f"a log scale needs low > 0, found low={low}.")
    if kind == "int" and not (float(low).is_integer() and float(high).is_integer()):
        raise ConfigError(f"this parameter is an integer: low and high must be whole numbers (found {low}, {high}).")
    return Dimension(key, kind, low, high, log=log, step=step)


def _number(value: Any) -> Any:
    """YAML 1.1 reads ``1e-5`` (no dot) as a string: such a string is read as the number it spells."""
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return value
    return value


def _check_in_range(base: Mapping[str, Any], dimension: Dimension) -> None:
    """Each bound (or choice) must be a valid value of the parameter: validated as a config would be."""
    ends = dimension.choices if dimension.kind == "categorical" else (dimension.low, dimension.high)
    for value in ends:
        try:
            load_config(merge_sections(dict(base), overrides_of({dimension.key: value})))
        except ConfigError as error:
            found = [line.strip(" -") for line in error.message.splitlines()[1:] if dimension.key in line]
            detail = found[0] if found else error.message.splitlines()[0]
            raise ConfigError(f"{value!r} is outside the parameter's valid range ({detail}).") from None
