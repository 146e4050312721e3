"""Typed study configuration: a training config plus the grid (methods x sizes x seeds).

A study YAML has the same ``task``, ``model``, ``data``, ``train`` and ``output`` sections as a
training config, plus:

* ``methods``: a list of method sections. Each is a name (``full``) or a mapping with ``name``,
  the method's own parameters, an optional ``id`` (its column in the report; default: the name,
  numbered when repeated) and optional ``train`` / ``model`` mappings that override the shared
  sections for this method only (``{name: full, train: {lr: 5.0e-5}}``).
* ``sizes``: training-set sizes. An integer is examples per class (classification) or examples
  (NER, multi-label); a number between 0 and 1 is a fraction of the training split; ``all`` is
  the whole split.
* ``seeds``: one run per seed; the seed draws the training sample and seeds the training.
* ``explain`` (optional): ``{method, examples, steps, erasure}``; each cell explains test examples drawn at random
  and the report shows the faithfulness of each method's explanations beside random attributions.
* ``executor`` (optional): where the cells run: ``local`` (default: one after another, here) or ``ray``
  (``{name: ray, address: auto, cpus: 1, gpus: 0}``: each cell in its own Ray worker process). It does
  not count as a change of the study on ``--resume``.
* ``robustness`` (optional): ``{suite, attacks, examples, max_share, min_similarity, seed}``; each cell runs the
  suite and attacks on test examples drawn at random, and the report compares the methods' flip and attack success
  rates with intervals and paired tests (``finegrain.study.robustness``).

Example:
    >>> study = load_study_config({"data": {"train": "bbc-news"}, "methods": ["tfidf", "full"],
    ...                            "sizes": [8, "all"], "seeds": [0, 1], "output": "studies/bbc"})
    >>> [v.id for v in study.variants()], study.sizes
    (['tfidf', 'full'], [8, 'all'])
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import Field, ValidationError, field_validator

from finegrain.config import (ComponentConfig, DataConfig, ModelConfig, RunConfig, Section, TrainConfig,
                              data_key_problems, describe_errors, load_config, merge_sections, parse_overrides,
                              read_yaml)
from finegrain.errors import ConfigError, FinegrainError
from finegrain.executors import ExecutorConfig

__all__ = ["StudyConfig", "ExplainSection", "RobustnessSection", "Variant", "Size", "load_study_config", "size_label",
           "dump_study_config"]

Size = int | float | Literal["all"]
_VARIANT_KEYS = ("id", "train", "model")


class ExplainSection(Section):
    """The ``explain`` block: each cell explains test examples drawn at random and measures how faithful that is."""

    method: str | None = None  # None: integrated-gradients where the method can use it, else occlusion
    examples: int = Field(50, ge=1)  # test examples each cell explains, drawn at random (the same in every cell)
    steps: int = Field(32, ge=1)  # integrated gradients' interpolation steps
    erasure: Literal["delete", "mask", "pad"] | None = None  # how a word is erased; None: the task's default

    @field_validator("method")
    @classmethod
    def _known_explainer(cls, value: str | None) -> str | None:
        from finegrain.explain import EXPLAINERS  # the explainers' registry; captum itself loads when explaining

        if value is not None and value not in EXPLAINERS:
            raise ValueError(f"unknown explainer '{value}'; choose one of {', '.join(EXPLAINERS.names())}")
        return None if value is None else EXPLAINERS.canonical(value)


class RobustnessSection(Section):
    """The ``robustness`` block: each cell's suite and attacks on test examples drawn at random."""

    suite: str = "default"  # 'default' (every invariance test) or a suite YAML (its inv tests count)
    attacks: list[str] = Field(default_factory=lambda: ["char"])  # char, synonym, embedding (transformers only)
    examples: int = Field(200, ge=1)  # test examples, a stratified random sample (the same in every cell)
    max_share: float = Field(0.25, gt=0, le=1)  # of an input's words an attack may change
    min_similarity: float = Field(0.8, ge=0, le=1)  # MiniLM cosine floor of attacked texts (0: none)
    seed: int = 0  # of the perturbations and attacks: the same in every cell, so methods are compared paired

    @field_validator("attacks")
    @classmethod
    def _known_attacks(cls, value: list[str]) -> list[str]:
        from finegrain.robustness.candidates import ATTACKS

        return [ATTACKS.canonical(name) for name in value]


class StudyConfig(Section):
    task: ComponentConfig = ComponentConfig(name="classification")
    model: ModelConfig = ModelConfig()
    data: DataConfig
    train: TrainConfig = TrainConfig()
    output: str
    methods: list[ComponentConfig] = Field(min_length=1)
    sizes: list[Size] = Field(default_factory=lambda: ["all"], min_length=1)
    seeds: list[int] = Field(default_factory=lambda: [0, 1, 2], min_length=1)
    # A size larger than a class has: 'error' (default) names the class; 'all' takes all of it.
    oversize: Literal["error", "all"] = "error"
    # Optional cap on the test split (a fixed stratified sample, the same for every cell).
    test_examples: int | None = Field(None, ge=10)
    latency: bool = True  # time predictions at batch size 1 and 32 (in the cells of the first seed)
    explain: ExplainSection | None = None  # faithfulness of each method's explanations, as a report table
    executor: ExecutorConfig = ExecutorConfig()  # where the cells run; the results do not depend on it
    robustness: RobustnessSection | None = None  # each method's flip and attack success rates, with intervals

    @field_validator("task", "executor", mode="before")
    @classmethod
    def _task_shorthand(cls, value: Any) -> Any:
        return {"name": value} if isinstance(value, str) else value

    @field_validator("methods", mode="before")
    @classmethod
    def _method_shorthand(cls, value: Any) -> Any:
        if isinstance(value, list):
            return [{"name": item} if isinstance(item, str) else item for item in value]
        return value

    @field_validator("sizes")
    @classmethod
    def _check_sizes(cls, sizes: list[Size]) -> list[Size]:
        for size in sizes:
            if isinstance(size, float) and not 0 < size <= 1:
                raise ValueError(f"a fractional size must be in (0, 1], got {size}")
            if isinstance(size, int) and not isinstance(size, bool) and size < 1:
                raise ValueError(f"a size must be at least 1 example, got {size}")
        if len({size_label(s) for s in sizes}) != len(sizes):
            raise ValueError("sizes are repeated")
        return sorted(sizes, key=_size_order)

    @field_validator("seeds")
    @classmethod
    def _unique_seeds(cls, seeds: list[int]) -> list[int]:
        if len(set(seeds)) != len(seeds):
            raise ValueError("seeds are repeated")
        return seeds

    def variants(self) -> list[Variant]:
        """The methods to compare, each with its resolved run settings."""
        names = Counter(m.name for m in self.methods if not (m.model_extra or {}).get("id"))
        seen: Counter = Counter()
        variants = []
        for entry in self.methods:
            extra = dict(entry.model_extra or {})
            seen[entry.name] += 1
            default_id = entry.name if names[entry.name] == 1 else f"{entry.name}-{seen[entry.name]}"
            method = {"name": entry.name, **{k: v for k, v in extra.items() if k not in _VARIANT_KEYS}}
            variants.append(Variant(str(extra.get("id") or default_id), method, extra.get("train") or {},
                                    extra.get("model") or {}))
        return variants

    def run_config(self, variant: Variant, *, train_file: str, validation_file: str, seed: int,
                   output: str) -> RunConfig:
        """The plain training config of one cell (its data files written by the study)."""
        shared = self.model_dump(mode="json", include={"task", "model", "train"})
        base = merge_sections(shared, {"model": variant.model, "train": {**variant.train, "seed": seed}})
        data = self.data.model_dump(mode="json")
        data.update(train=train_file, validation=validation_file, test=None, max_train_examples=None)
        return load_config({**base, "method": variant.method, "data": data, "output": output})


@dataclass(frozen=True)
class Variant:
    id: str
    method: dict[str, Any]
    train: dict[str, Any]
    model: dict[str, Any]


def size_label(size: Size) -> str:
    """'8', '0.25' or 'all': how a size names its folders and columns."""
    return "all" if size == "all" else (f"{size:g}" if isinstance(size, float) else str(size))


def _size_order(size: Size) -> tuple[int, float]:
    return (2, 0.0) if size == "all" else ((1, float(size)) if isinstance(size, float) else (0, float(size)))


def load_study_config(source: str | Path | dict[str, Any], overrides: list[str] | None = None) -> StudyConfig:
    """Validate a study from YAML (or a dict) plus dotted overrides; every problem reported at once."""
    where = None if isinstance(source, dict) else str(source)
    data = dict(source) if isinstance(source, dict) else read_yaml(source)
    data = merge_sections(data, parse_overrides(overrides or []))
    problems = data_key_problems(data)  # before the methods: each would report them again
    try:
        study = StudyConfig.model_validate(data)
    except ValidationError as error:
        problems = describe_errors(error, model=StudyConfig) + problems
    if problems:
        raise ConfigError(f"{len(problems)} problem(s) in the study:\n  - " + "\n  - ".join(problems),
                          where=where) from None
    _check_variants(study, where)
    return study


def _check_variants(study: StudyConfig, where: str | None) -> None:
    """Every method section must make a valid training config (names, params, overrides)."""
    problems = []
    ids = Counter(v.id for v in study.variants())
    problems += [f"methods: the id '{name}' is used {n} times; give each method its own id."
                 for name, n in ids.items() if n > 1]
    for index, variant in enumerate(study.variants()):
        try:
            study.run_config(variant, train_file="train.jsonl", validation_file="validation.jsonl", seed=0,
                             output="cell")
        except FinegrainError as error:
            lines = error.message.splitlines()[1:] or [error.message]
            problems += [f"methods[{index}] ({variant.id}): {line.strip().removeprefix('- ')}" for line in lines]
    if problems:
        raise ConfigError(f"{len(problems)} problem(s) in the study:\n  - " + "\n  - ".join(problems), where=where)


def dump_study_config(study: StudyConfig) -> str:
    return yaml.safe_dump(study.model_dump(mode="json"), sort_keys=False, allow_unicode=True)
