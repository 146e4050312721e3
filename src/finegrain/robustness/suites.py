"""Test suites: which invariance tests run (``default``: every perturbation the task can use), and the directional
and minimum-functionality tests a user writes in YAML. Every error names the file and line of the test.

Example suite (``negation.yaml``)::

    tests:
      - type: inv
        perturbations: [typos, contractions]
      - type: dir                      # adding 'not' to a positive review must not raise P(positive)
        name: negation lowers positive
        when: positive                 # only examples whose gold label is this (optional)
        edit: {append: " not"}         # append, prepend, or replace: {old: new} (whole words); pairs: first text
        expect: {label: positive, direction: not_up}
      - type: mft
        name: plain negative statements
        template: "I {verb} this {thing}."
        fill: {verb: [hate, dislike], thing: [film, movie]}
        expect: {label: negative}
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from finegrain.errors import ConfigError
from finegrain.registry import suggest
from finegrain.robustness.perturbations import DEFAULT_SUITE, PERTURBATIONS

__all__ = ["Suite", "DirTest", "MftTest", "load_suite", "default_suite", "check_labels", "TEST_TYPES", "DIRECTIONS"]

TEST_TYPES = {"inv": "invariance: a perturbation must not change the prediction",
              "dir": "directional: an edit must move (or not move) a label's probability one way",
              "mft": "minimum functionality: texts from a template must get the expected label"}
DIRECTIONS = ("up", "down", "not_up", "not_down")
_KEYS = {"inv": {"type", "perturbations"}, "dir": {"type", "name", "when", "edit", "expect", "tolerance"},
         "mft": {"type", "name", "template", "fill", "expect", "limit"}}
_EDITS = ("append", "prepend", "replace")
_MAX_FILLS = 200  # texts one template expands to at most (the product of its fills can be large)


@dataclass(frozen=True)
class DirTest:
    name: str
    where: str  # file:line, for messages about the test
    edit: dict[str, Any]
    label: str
    direction: str
    when: str | None = None
    tolerance: float = 0.0


@dataclass(frozen=True)
class MftTest:
    name: str
    where: str
    texts: tuple[Any, ...]  # inputs as predict takes them: texts, or pairs
    label: str


@dataclass(frozen=True)
class Suite:
    name: str
    invariance: tuple[str, ...]
    directional: tuple[DirTest, ...] = ()
    functionality: tuple[MftTest, ...] = ()
    source: str | None = field(default=None)


def default_suite() -> Suite:
    """Every invariance test; directional and minimum-functionality tests need a user's YAML."""
    return Suite("default", DEFAULT_SUITE)


class _LineLoader(yaml.SafeLoader):
    """A safe loader that records each mapping's line under ``__line__``."""


def _mapping_with_line(loader: yaml.SafeLoader, node: yaml.MappingNode) -> dict[str, Any]:
    mapping = loader.construct_mapping(node, deep=True)
    mapping["__line__"] = node.start_mark.line + 1
    return mapping


_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _mapping_with_line)


def load_suite(path: str | Path) -> Suite:
    """The suite in a YAML file (see the module docstring); every problem raised with its file:line."""
    path = Path(path)
    try:
        data = yaml.load(path.read_text(encoding="utf-8"), Loader=_LineLoader)  # noqa: S506 (a SafeLoader)
    except OSError as error:
        raise ConfigError(f"cannot read the suite: {error.strerror or error}.", where=str(path),
                          hint="give --suite default or the path of a suite YAML file.") from None
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        raise ConfigError(f"the suite is not valid YAML: {getattr(error, 'problem', error)}.",
                          where=f"{path}:{mark.line + 1}" if mark else str(path),
                          hint="fix the YAML syntax (indentation, quotes) there.") from None
    if not isinstance(data, dict) or not isinstance(data.get("tests"), list) or not data["tests"]:
        raise ConfigError("a suite is a mapping with a non-empty 'tests' list.", where=f"{path}:1",
                          hint=f"start with 'tests:' and list tests of type {', '.join(TEST_TYPES)} under it.")
    invariance: list[str] = []
    directional, functionality = [], []
    for item in data["tests"]:
        test = _parse(item, path)
        if isinstance(test, DirTest):
            directional.append(test)
        elif isinstance(test, MftTest):
            functionality.append(test)
        else:
            invariance.extend(name for name in test if name not in invariance)
    return Suite(path.stem, tuple(invariance), tuple(directional), tuple(functionality), str(path))


def _parse(item: Any, path: Path) -> DirTest | MftTest | list[str]:
    if not isinstance(item, dict):
        raise ConfigError(f"each test is a mapping with a 'type', not {type(item).__name__} {item!r}.",
                          where=str(path), hint=f"e.g. '- type: inv'; types: {_types()}.")
    where = f"{path}:{item.pop('__line__')}"
    item = {key: _plain(value) for key, value in item.items()}
    kind = item.get("type")
    if kind not in TEST_TYPES:
        found = "no 'type'" if kind is None else f"unknown test type '{kind}'.{suggest(str(kind), list(TEST_TYPES))}"
        raise ConfigError(f"{found}; valid types: {', '.join(TEST_TYPES)}.", where=where, hint=f"types: {_types()}.")
    unknown = sorted(set(item) - _KEYS[kind])
    if unknown:
        raise ConfigError(f"unknown key '{unknown[0]}' in a {kind} test.{suggest(unknown[0], sorted(_KEYS[kind]))}",
                          where=where, hint=f"a {kind} test takes: {', '.join(sorted(_KEYS[kind]))}.")
    if kind == "inv":
        return _perturbations(item.get("perturbations", "default"), where)
    expect = item.get("expect")
    if not isinstance(expect, dict) or not isinstance(expect.get("label"), str):
        raise ConfigError(f"the {kind} test '{item.get('name', '')}' has no label expectation: 'expect: {{label:"
                          " ...}}' names the label its texts must get (or whose probability moves).", where=where,
                          hint="add e.g. 'expect: {label: negative" + (", direction: not_up}'" if kind == "dir" else "}'"))
    name = str(item.get("name") or f"{kind} test at line {where.rsplit(':', 1)[1]}")
    if kind == "dir":
        return _directional(item, name, expect, where)
    return MftTest(name, where, _expand(item, where), expect["label"])


def _plain(value: Any) -> Any:
    """A nested value without the line numbers the loader recorded in its mappings."""
    if isinstance(value, dict):
        return {key: _plain(inner) for key, inner in value.items() if key != "__line__"}
    return [_plain(inner) for inner in value] if isinstance(value, list) else value


def _types() -> str:
    return "; ".join(f"{name} ({meaning})" for name, meaning in TEST_TYPES.items())


def _perturbations(value: Any, where: str) -> list[str]:
    if value == "default":
        return list(DEFAULT_SUITE)
    names = [value] if isinstance(value, str) else value
    if not isinstance(names, list) or not names:
        raise ConfigError("'perturbations' is a list of names (or 'default').", where=where,
                          hint=f"perturbations: {', '.join(DEFAULT_SUITE)}.")
    for name in names:
        if str(name) not in PERTURBATIONS:
            raise ConfigError(f"unknown perturbation '{name}'.{suggest(str(name), list(DEFAULT_SUITE))}", where=where,
                              hint=f"perturbations: {', '.join(DEFAULT_SUITE)}.")
    return [PERTURBATIONS.canonical(str(name)) for name in names]


def _directional(item: dict[str, Any], name: str, expect: dict[str, Any], where: str) -> DirTest:
    edit = item.get("edit")
    if not isinstance(edit, dict) or not edit or set(edit) - set(_EDITS):
        raise ConfigError(f"the dir test '{name}' needs an 'edit' of {', '.join(_EDITS)}; found {edit!r}.",
                          where=where, hint="e.g. 'edit: {append: \" not\"}' or 'edit: {replace: {good: bad}}'.")
    if "replace" in edit and not isinstance(edit["replace"], dict):
        raise ConfigError("'replace' maps words to their replacements.", where=where,
                          hint="e.g. 'replace: {good: bad, great: awful}'.")
    direction = expect.get("direction")
    if direction not in DIRECTIONS:
        raise ConfigError(f"the dir test '{name}' has direction {direction!r}; expected one of"
                          f" {', '.join(DIRECTIONS)}.", where=where,
                          hint="e.g. 'expect: {label: positive, direction: not_up}'.")
    tolerance = item.get("tolerance", 0.0)
    if not isinstance(tolerance, (int, float)) or tolerance < 0:
        raise ConfigError(f"tolerance is a probability change of at least 0, not {tolerance!r}.", where=where,
                          hint="e.g. 'tolerance: 0.05'.")
    when = item.get("when")
    return DirTest(name, where, edit, expect["label"], direction, None if when is None else str(when),
                   float(tolerance))


def _expand(item: dict[str, Any], where: str) -> tuple[Any, ...]:
    """The template's texts: every combination of its fills (at most ``limit``, default 200), the first slot's
    values varying slowest."""
    template, fill = item.get("template"), item.get("fill", {})
    templates = [template] if isinstance(template, str) else template
    if not isinstance(templates, list) or not 1 <= len(templates) <= 2 or \
            not all(isinstance(text, str) for text in templates):
        raise ConfigError(f"an mft test needs a 'template': a text, or a list of two for pairs; found {template!r}.",
                          where=where, hint="e.g. 'template: \"I {verb} this {thing}.\"'.")
    if not isinstance(fill, dict) or not all(isinstance(v, list) and v for v in fill.values()):
        raise ConfigError("'fill' maps each {slot} of the template to a non-empty list of words.", where=where,
                          hint="e.g. 'fill: {verb: [hate, dislike]}'.")
    slots = list(dict.fromkeys(slot for text in templates for slot in re.findall(r"{(\w+)}", text)))
    missing = [slot for slot in slots if slot not in fill]
    if missing:
        raise ConfigError(f"the template's slot {{{missing[0]}}} has no values in 'fill'.", where=where,
                          hint=f"add '{missing[0]}: [...]' under fill.")
    limit = int(item.get("limit", _MAX_FILLS))
    texts = []
    for values in itertools.islice(itertools.product(*(fill[slot] for slot in slots)), limit):
        chosen = dict(zip(slots, map(str, values)))
        filled = tuple(re.sub(r"{(\w+)}", lambda m: chosen[m.group(1)], text) for text in templates)
        texts.append(filled[0] if len(filled) == 1 else filled)
    return tuple(texts)


def check_labels(suite: Suite, labels: Sequence[str], classes: bool, task: str) -> None:
    """Every label a test names is one of the run's; directional and functionality tests need a class task."""
    tests: list[DirTest | MftTest] = [*suite.directional, *suite.functionality]
    if tests and not classes:
        raise ConfigError(f"dir and mft tests name a class, but the {task} task gives none per input.",
                          where=tests[0].where, hint="use only inv tests for this run.")
    for test in tests:
        for label in (test.label, getattr(test, "when", None)):
            if label is not None and label not in labels:
                close = suggest(label, list(labels))
                raise ConfigError(f"label '{label}' of test '{test.name}' is not a label of this run.{close}",
                                  where=test.where, hint=f"its labels: {', '.join(labels)}.")
