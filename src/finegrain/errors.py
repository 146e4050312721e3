"""Errors that teach: what was expected, what was found, where, and how to fix it.

Every error a user can cause derives from :class:`FinegrainError`. The CLI prints its
message without a traceback and exits with code 2.
"""

from __future__ import annotations

__all__ = [
    "FinegrainError",
    "ConfigError",
    "DataError",
    "UnknownNameError",
    "ModelError",
    "RunDirError",
    "RegistrationError",
]


class FinegrainError(Exception):
    """Base class of every error caused by user input (config, data, names, run dirs)."""

    exit_code = 2

    def __init__(self, message: str, *, where: str | None = None, hint: str | None = None):
        self.message = message
        self.where = where
        self.hint = hint
        super().__init__(self.render())

    def render(self) -> str:
        head = f"{self.where}: {self.message}" if self.where else self.message
        return f"{head}\n  How to fix: {self.hint}" if self.hint else head


class ConfigError(FinegrainError):
    """The run configuration is invalid (unknown key, wrong type, bad value, YAML syntax)."""


class DataError(FinegrainError):
    """A data file or built-in dataset cannot be used as given."""


class UnknownNameError(FinegrainError):
    """A registered name (task, method, dataset, model) does not exist."""


class ModelError(FinegrainError):
    """A model cannot be found, loaded, or does not fit the request."""


class RunDirError(FinegrainError):
    """A run directory is missing, incomplete, or holds a different run."""


class RegistrationError(FinegrainError):
    """A component registered under a name does not provide what its kind must (a missing protocol member)."""
