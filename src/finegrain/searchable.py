"""Search ranges declared beside the config fields they tune, read by ``finegrain tune``.

A field of a config section or of a component's ``Params`` says how it may be searched in its
``json_schema_extra``, with :func:`searchable`; ``finegrain tune`` builds its default search space from
these declarations (and a user's ``search:`` block overrides them). Declaring a range here changes
nothing about training: only the tuner reads it.

Example:
    >>> from pydantic import BaseModel, Field
    >>> class Params(BaseModel):
    ...     dropout: float = Field(0.1, ge=0, lt=1, json_schema_extra=searchable(0.0, 0.3))
    >>> declared_search(Params.model_fields["dropout"])
    {'low': 0.0, 'high': 0.3, 'log': False}
"""

from __future__ import annotations

from typing import Any

from pydantic.fields import FieldInfo

__all__ = ["searchable", "declared_search"]

_KEY = "search"


def searchable(low: float | None = None, high: float | None = None, *, log: bool = False, step: float | None = None,
               choices: list[Any] | None = None, every_choice: bool = False,
               factor: float | None = None) -> dict[str, Any]:
    """The ``json_schema_extra`` of a searchable field: a range ``[low, high]`` (``log``: log-uniform, ``step``:
    a grid), a list of ``choices`` (``every_choice``: each value of the field's ``Literal`` or ``bool`` type), or
    ``factor``: within that factor either side of the run's own value (the learning rate, whose good value
    depends on the method)."""
    if every_choice:
        return {_KEY: {"every_choice": True}}
    if choices is not None:
        return {_KEY: {"choices": list(choices)}}
    if factor is not None:
        return {_KEY: {"factor": factor, "log": log}}
    spec: dict[str, Any] = {"low": low, "high": high, "log": log}
    if step is not None:
        spec["step"] = step
    return {_KEY: spec}


def declared_search(field: FieldInfo) -> dict[str, Any] | None:
    """The search declared on ``field`` (a copy), or None when it is not searched by default."""
    extra = field.json_schema_extra
    if isinstance(extra, dict) and isinstance(extra.get(_KEY), dict):
        return dict(extra[_KEY])
    return None
