"""Nested training samples: per seed, the 16-per-class sample contains the 8-per-class one.

Each class's examples are shuffled once per seed and a size takes the first N of each
shuffled class, so learning curves grow in data, not in luck: a larger size only adds
examples. Positions come back sorted, keeping the data's own order.

Example:
    >>> import pandas as pd
    >>> frame = pd.DataFrame({"label": ["a", "b"] * 10})
    >>> small = nested_positions(frame, "label", 2, seed=0)
    >>> large = nested_positions(frame, "label", 5, seed=0)
    >>> len(small), len(large), set(small) <= set(large)
    (4, 10, True)
"""

from __future__ import annotations

import math
from typing import Literal

import numpy as np
import pandas as pd

from finegrain.errors import DataError

__all__ = ["nested_positions"]


def nested_positions(frame: pd.DataFrame, column: str | None, size: int | float | str, seed: int, *,
                     oversize: Literal["error", "all"] = "error", stream: int = 0,
                     where: str = "data.train") -> np.ndarray:
    """Sorted row positions of the ``size`` sample drawn with ``seed``.

    ``column`` names the class column for per-class sizes (None: ``size`` counts examples).
    An integer size larger than a class has raises a :class:`DataError` naming the class, unless
    ``oversize='all'`` (then all of that class is taken). ``stream`` separates independent draws
    with the same seed (the training and validation samples).
    """
    rng = np.random.default_rng([seed, stream])
    groups = _groups(frame, column)
    chosen = []
    for name, positions in groups:
        order = positions[rng.permutation(len(positions))]
        take = _how_many(size, len(order), name, oversize, where, per_class=column is not None)
        chosen.append(order[:take])
    return np.sort(np.concatenate(chosen)) if chosen else np.array([], dtype=int)


def _groups(frame: pd.DataFrame, column: str | None) -> list[tuple[str, np.ndarray]]:
    if column is None:
        return [("all", np.arange(len(frame)))]
    codes, names = pd.factorize(frame[column].astype(str), sort=True)
    return [(str(name), np.flatnonzero(codes == code)) for code, name in enumerate(names)]


def _how_many(size: int | float | str, available: int, name: str, oversize: str, where: str, *,
              per_class: bool) -> int:
    if size == "all":
        return available
    if isinstance(size, float):
        return max(1, math.ceil(size * available)) if available else 0
    if size > available:
        if oversize == "all":
            return available
        what = f"class '{name}' has only {available} examples" if per_class else f"it has only {available} examples"
        unit = "per class" if per_class else "examples"
        raise DataError(f"size {size} {unit} is larger than the training data allows: {what}.", where=where,
                        hint=f"use sizes of at most {available}, 'all', or set oversize: all to take every example"
                             f" of a class that is too small.")
    return int(size)
