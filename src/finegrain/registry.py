"""A small generic registry: components are chosen by registered name, never by import path.

Each registry knows the modules that register its built-in entries and imports them on first
use, so lower layers (config validation) can look names up without importing upper layers.
"""

from __future__ import annotations

import difflib
import importlib
from collections.abc import Callable, Iterator
from typing import Generic, TypeVar

from finegrain.errors import UnknownNameError

__all__ = ["Registry", "TASKS", "METHODS", "DATASETS", "MODELS", "suggest"]

T = TypeVar("T")


def suggest(name: str, choices: list[str]) -> str:
    """Return ' Did you mean 'x'?' for the closest choice, or ''."""
    close = difflib.get_close_matches(name, choices, n=1, cutoff=0.6)
    return f" Did you mean '{close[0]}'?" if close else ""


class Registry(Generic[T]):
    """Maps names (and aliases) to entries of one kind.

    Example:
        >>> shapes = Registry[int]("shape")
        >>> _ = shapes.register("square", 4)
        >>> shapes.get("square")
        4
    """

    def __init__(self, kind: str, builtin_modules: tuple[str, ...] = ()):
        self.kind = kind
        self._entries: dict[str, T] = {}
        self._aliases: dict[str, str] = {}
        self._builtin_modules = builtin_modules
        self._loaded = not builtin_modules

    def register(self, name: str, entry: T | None = None, *, aliases: tuple[str, ...] = ()):
        """Register ``entry`` under ``name``; without ``entry``, act as a decorator."""

        def add(obj: T) -> T:
            if name in self._entries or name in self._aliases:
                raise ValueError(f"{self.kind} '{name}' is registered twice")
            self._entries[name] = obj
            for alias in aliases:
                self._aliases[alias] = name
            return obj

        if entry is not None:
            return add(entry)
        return add

    def _load(self) -> None:
        if not self._loaded:
            self._loaded = True
            for module in self._builtin_modules:
                importlib.import_module(module)

    def canonical(self, name: str) -> str:
        """The registered name for ``name`` or one of its aliases."""
        self._load()
        if name in self._entries:
            return name
        if name in self._aliases:
            return self._aliases[name]
        choices = self.names()
        raise UnknownNameError(
            f"Unknown {self.kind} '{name}'.{suggest(name, choices + list(self._aliases))}"
            f" Available: {', '.join(choices)}."
        )

    def get(self, name: str) -> T:
        return self._entries[self.canonical(name)]

    def names(self) -> list[str]:
        self._load()
        return sorted(self._entries)

    def __contains__(self, name: object) -> bool:
        self._load()
        return name in self._entries or name in self._aliases

    def items(self) -> Iterator[tuple[str, T]]:
        self._load()
        yield from sorted(self._entries.items())


TASKS: Registry[Callable] = Registry("task", ("finegrain.tasks",))
METHODS: Registry[Callable] = Registry("method", ("finegrain.methods",))
DATASETS: Registry[object] = Registry("dataset", ("finegrain.data.builtin",))
MODELS: Registry[object] = Registry("model", ("finegrain.models.catalog", "finegrain.pretraining.zoo"))
