"""What ``finegrain tune`` reads: a run config with an optional ``tune:`` block (how to search) and ``search:``
block (what to search), or the search in its own file (``--search FILE.yaml``).

The run config is validated as ``finegrain train`` validates it; the search space is checked against the
method's and the task's parameters, each problem reported with the ``file:line`` it was written on.

Example:
    >>> spec = load_tune_spec("configs/tweet-tune.yaml", trials=20)  # doctest: +SKIP
    >>> sorted(spec.space)  # doctest: +SKIP
    ['task.class_weights', 'train.batch_size', 'train.epochs', 'train.lr', 'train.warmup', 'train.weight_decay']
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import Field, ValidationError, field_validator

from finegrain.config import RunConfig, Section, describe_errors, dump_config, load_config, read_yaml
from finegrain.errors import ConfigError
from finegrain.executors import ExecutorConfig
from finegrain.tune.space import Dimension, build_space

__all__ = ["TuneSettings", "TuneSpec", "load_tune_spec", "parse_duration"]

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


class TuneSettings(Section):
    """The ``tune:`` block; the command line's flags override it."""

    trials: int = Field(20, ge=1)  # finished trials in all (a resumed tune runs the rest)
    timeout: str | None = None  # stop starting trials after this long: 90s, 30m, 2h
    sampler: Literal["tpe", "random"] = "tpe"  # TPE: Optuna's default, good with mixed (float + choice) spaces
    pruner: Literal["median", "halving", "none"] = "median"  # median: stop a trial below the median at the same point
    prune_after: int = Field(3, ge=0)  # trials finished before pruning starts: the median needs some to compare
    # journal: Optuna's journal file in the tune folder (resumable, safe across processes on one file system);
    # memory: nothing kept; or a database URL (sqlite:///tune.db, postgresql://...) for many machines
    storage: str = "journal"
    seed: int = 0  # the sampler's seed
    # training seeds of every trial: each trial trains once per seed and scores their mean; the seeds are the
    # pruner's instances (a trial poor on its first seed stops there). None: the config's train.seed, one run
    seeds: list[int] | None = Field(None, min_length=1)
    default_space: bool = True  # false: search only the search: block
    output: str | None = None  # the tune folder; None: <the run's output>-tune
    # where trials run: local (one after another, here) or ray (tune.workers trial processes at once, each with
    # executor.cpus threads, on the shared journal or database; finegrain.tune.parallel)
    executor: ExecutorConfig = ExecutorConfig()
    workers: int = Field(1, ge=1)  # trials at once (ray)

    @field_validator("seeds")
    @classmethod
    def _distinct_seeds(cls, value: list[int] | None) -> list[int] | None:
        if value is not None and len(set(value)) != len(value):
            raise ValueError(f"each seed once: {value} repeats one (a repeat would only count that run twice)")
        return value

    @field_validator("executor", mode="before")
    @classmethod
    def _executor_shorthand(cls, value: Any) -> Any:
        return {"name": value} if isinstance(value, str) else value


@dataclass
class TuneSpec:
    """A checked tune: the base run config (as written and validated), the settings and the search space."""

    base: dict[str, Any]  # the run config's sections as written, without tune: and search:
    config: RunConfig
    settings: TuneSettings
    space: dict[str, Dimension]
    config_path: str | None = None
    search_path: str | None = None

    @property
    def output(self) -> Path:
        return Path(self.settings.output or f"{self.config.output.rstrip('/')}-tune")

    def fingerprint(self) -> str:
        """What a journal must have been made with to be resumed: the config, the space, how to search."""
        return hashlib.sha256(json.dumps(self.described(), sort_keys=True, default=str).encode()).hexdigest()[:16]

    def described(self) -> dict[str, Any]:
        settings = self.settings.model_dump(exclude={"trials", "timeout", "output", "storage", "executor", "workers"})
        return {"config": yaml.safe_load(dump_config(self.config)), "settings": settings,
                "space": {key: dimension.as_dict() for key, dimension in sorted(self.space.items())}}


def parse_duration(text: str | None, where: str = "tune.timeout") -> float | None:
    """Seconds in ``90s``, ``30m``, ``2h`` or ``45`` (seconds); None stays None."""
    if text is None:
        return None
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smhd]?)\s*", str(text))
    if not match or float(match.group(1)) <= 0:
        raise ConfigError(f"expected a duration such as 90s, 30m or 2h, found {text!r}.", where=where,
                          hint="Write a positive number with s, m, h or d (seconds without a unit).")
    return float(match.group(1)) * _UNITS[match.group(2) or "s"]


def load_tune_spec(source: str | Path | dict[str, Any], *, search_file: str | Path | None = None,
                   **flags: Any) -> TuneSpec:
    """Read the config (and ``search_file``), apply ``flags`` (TuneSettings fields set on the command line,
    None for unset), validate it all. Raises ConfigError with every problem of a section at once."""
    path = None if isinstance(source, dict) else str(source)
    data = dict(source) if isinstance(source, dict) else read_yaml(source)
    block, search = data.pop("tune", None) or {}, data.pop("search", None) or {}
    lines = _search_lines(path, "search") if path else {}
    if search_file is not None:
        search, lines = _read_search_file(Path(search_file))
    settings = _settings(block, flags, path)
    if not isinstance(search, dict):
        raise ConfigError(f"search: must map parameters (train.lr, method.r) to ranges, found {type(search).__name__}.",
                          where=str(search_file or path or "search"))
    try:
        config = load_config(data)
    except ConfigError as error:
        raise ConfigError(error.message, where=path, hint=error.hint) from None
    for section in ("task", "method"):  # a trial's task.* or method.* override needs the component's name beside it
        data.setdefault(section, getattr(config, section).name)
    space = build_space(config, data, search, use_defaults=settings.default_space, lines=lines)
    parse_duration(settings.timeout)
    return TuneSpec(data, config, settings, space, path, str(search_file) if search_file else None)


def _settings(block: Any, flags: dict[str, Any], path: str | None) -> TuneSettings:
    if not isinstance(block, dict):
        raise ConfigError(f"tune: must be a mapping of settings, found {type(block).__name__}.", where=path)
    values = {**block, **{key: value for key, value in flags.items() if value is not None}}
    try:
        return TuneSettings.model_validate(values)
    except ValidationError as error:
        problems = describe_errors(error, prefix="tune.", model=TuneSettings)
        raise ConfigError(f"{len(problems)} problem(s) in the tune settings:\n  - " + "\n  - ".join(problems),
                          where=path, hint=f"Valid keys: {', '.join(TuneSettings.model_fields)}.") from None


def _read_search_file(path: Path) -> tuple[dict[str, Any], dict[str, str]]:
    """A search file holds the entries themselves, or a config-like file with a ``search:`` block."""
    data = read_yaml(path)
    if "search" in data and isinstance(data["search"], dict):
        return data["search"], _search_lines(str(path), "search")
    return data, _search_lines(str(path), None)


def _search_lines(path: str, section: str | None) -> dict[str, str]:
    """``key -> file:line`` of each entry of the search block (or of the whole file when ``section`` is None)."""
    node = yaml.compose(Path(path).read_text(encoding="utf-8"))
    if section is not None:
        entries = getattr(node, "value", [])
        node = next((value for key, value in entries if getattr(key, "value", None) == section), None)
    if not isinstance(node, yaml.MappingNode):
        return {}
    return {str(key.value): f"{path}:{key.start_mark.line + 1}" for key, _ in node.value}
