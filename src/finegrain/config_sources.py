"""Where a run's settings come from before they are typed: a YAML file (file:line:column errors, a folder named
as such) and ``section.key=value`` overrides, merged section by section. :mod:`finegrain.config` validates the
result.

Example:
    >>> merge_sections({"method": "lora", "train": {"lr": 1e-3}}, parse_overrides(["method.r=4", "train.lr=5e-4"]))
    {'method': {'name': 'lora', 'r': 4}, 'train': {'lr': 0.0005}}
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from finegrain.errors import ConfigError
from finegrain.text_encoding import decode_text

__all__ = ["parse_overrides", "merge_sections", "read_yaml"]

_NAMED_SECTIONS = ("task", "method", "executor")  # a bare name stands for {name: ...}


def parse_overrides(overrides: list[str]) -> dict[str, Any]:
    """Turn ``["train.lr=1e-4", "method.r=16"]`` into a nested dict; values are parsed as YAML."""
    nested: dict[str, Any] = {}
    for item in overrides:
        key, sep, raw = item.partition("=")
        if not sep or not key or any(not part for part in key.split(".")):
            raise ConfigError(
                f"Override '{item}' is not of the form section.key=value.",
                hint="Write overrides like train.lr=1e-4 or method.name=full.",
            )
        value = _parse_scalar(raw)
        node = nested
        *parents, leaf = key.split(".")
        for part in parents:
            if isinstance(node.get(part), str) and part in _NAMED_SECTIONS:
                node[part] = {"name": node[part]}  # method=lora method.r=4
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise ConfigError(f"Override '{item}' sets a key below '{part}', which is a value.")
        node[leaf] = value
    return nested


def _parse_scalar(raw: str) -> Any:
    try:
        value = yaml.safe_load(raw) if raw else None
    except yaml.YAMLError:
        return raw
    if isinstance(value, str):  # YAML 1.1 reads '1e-4' as a string
        try:
            return float(value) if any(c in value for c in ".eE") else value
        except ValueError:
            return value
    return value


def merge_sections(base: dict[str, Any], update: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in update.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = merge_sections(merged[key], value)
        elif isinstance(value, dict) and isinstance(merged.get(key), str) and key in _NAMED_SECTIONS:
            merged[key] = merge_sections({"name": merged[key]}, value)
        else:
            merged[key] = value
    return merged


def read_yaml(path: str | Path) -> dict[str, Any]:
    """Read a YAML mapping, with file:line errors for syntax problems."""
    path = Path(path)
    if path.is_dir():
        raise _folder_error(path)
    if not path.is_file():
        raise ConfigError(f"Config file '{path}' does not exist.", hint="Check the path, or start from configs/.")
    text = decode_text(path.read_bytes(), str(path), error_type=ConfigError)
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f"{path}:{mark.line + 1}:{mark.column + 1}" if mark else str(path)
        problem = getattr(error, "problem", None) or str(error)
        raise ConfigError(f"YAML syntax error: {problem}.", where=where,
                          hint="Check indentation and that each key is followed by ': '.") from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"'{path}' must hold a mapping of sections (task, model, method, data, train, output),"
                          f" found a {type(data).__name__}.")
    return data


def _folder_error(path: Path) -> ConfigError:
    """A folder where a YAML file was expected; a run directory's own config.yaml is named first."""
    inside = sorted(path.glob("*.yaml")) + sorted(path.glob("*.yml"))
    listed = ", ".join(str(p) for p in inside[:5]) + (f" and {len(inside) - 5} more" if len(inside) > 5 else "")
    found = f" YAML files in it: {listed}." if inside else " It holds no .yaml file."
    return ConfigError(f"is a folder, but a YAML config file was expected.{found}", where=str(path),
                       hint="give the path of a YAML file (a run directory keeps its config in RUN/config.yaml),"
                            " or start from one in configs/.")
