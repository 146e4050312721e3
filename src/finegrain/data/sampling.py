"""Deterministic stratified splitting and subsampling.

Results depend only on the rows, their order and the seed (never on hash order), and rows
keep their original order inside each part, so the same data and seed give the same parts on
every machine.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from finegrain.errors import DataError

__all__ = ["stratified_split", "stratified_subsample", "spread_positions"]


def stratified_split(frame: pd.DataFrame, column: str | None, fraction: float,
                     seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Split ``frame`` into (rest, held_out), ``held_out`` holding about ``fraction`` of the rows.

    Stratified by ``column`` so that every class with at least two examples appears on both
    sides where the sizes allow; a class seen once stays in ``rest``. With ``column=None`` or
    unhashable values (multi-label lists) the split is a plain shuffled one.

    Example:
        >>> frame = pd.DataFrame({"label": ["a"] * 6 + ["b"] * 4})
        >>> rest, held = stratified_split(frame, "label", 0.5, seed=0)
        >>> sorted(held["label"]), len(rest)
        (['a', 'a', 'a', 'b', 'b'], 5)
    """
    if not 0.0 < fraction < 1.0:
        raise ValueError(f"fraction must be between 0 and 1, got {fraction}")
    if len(frame) < 2:
        raise DataError(f"cannot split {len(frame)} example(s) in two; at least 2 are needed.",
                        hint="give more examples, or a separate validation file.")
    n_held = min(max(round(len(frame) * fraction), 1), len(frame) - 1)
    codes = _class_codes(frame, column)
    mask = np.zeros(len(frame), dtype=bool)
    mask[_held_positions(codes, len(frame), n_held, seed)] = True
    positions = np.arange(len(frame))
    return frame.iloc[positions[~mask]], frame.iloc[positions[mask]]


def stratified_subsample(frame: pd.DataFrame, column: str | None, n: int, seed: int) -> pd.DataFrame:
    """``n`` rows keeping the class proportions of ``column``, at least one of each class present.

    When ``n`` is smaller than the number of classes, one row per class is returned (more than
    ``n``): dropping a class silently would change the task. Returns ``frame`` whole when
    ``n >= len(frame)``.
    """
    if n >= len(frame):
        return frame
    rng = np.random.default_rng(seed)
    codes = _class_codes(frame, column)
    if codes is None:
        return frame.iloc[np.sort(rng.permutation(len(frame))[:n])]
    counts = np.bincount(codes)
    chosen = [
        rng.permutation(np.flatnonzero(codes == code))[:take]
        for code, take in enumerate(_allocate(counts, n))
    ]
    return frame.iloc[np.sort(np.concatenate(chosen))]


def _class_codes(frame: pd.DataFrame, column: str | None) -> np.ndarray | None:
    """Integer class codes in order of first appearance (missing values form a class), or None."""
    if column is None:
        return None
    try:
        codes, _ = pd.factorize(frame[column], use_na_sentinel=False)
    except TypeError:  # unhashable values, e.g. lists of labels
        return None
    return np.asarray(codes)


def _held_positions(codes: np.ndarray | None, total: int, n_held: int, seed: int) -> np.ndarray:
    """Held-out positions: stratified by sklearn when the sizes allow, else a plain shuffle.

    Stratification runs over the classes with at least two examples (a class seen once can
    only be on one side, so it stays in the rest); classes that sklearn's rounding left on one
    side then get one example moved across.
    """
    from sklearn.model_selection import train_test_split  # slow to import: only when splitting

    if codes is not None:
        counts = np.bincount(codes)
        shared = np.flatnonzero(counts[codes] >= 2)
        n_classes = int((counts >= 2).sum())
        if n_classes and n_classes <= n_held <= len(shared) - n_classes:
            _, held = train_test_split(shared, test_size=n_held, random_state=seed, stratify=codes[shared])
            return _cover_classes(held, codes, seed)
    _, held = train_test_split(np.arange(total), test_size=n_held, random_state=seed, shuffle=True)
    return held


def _cover_classes(held: np.ndarray, codes: np.ndarray, seed: int) -> np.ndarray:
    """Move one example of each class with 2+ examples that sits on one side only across."""
    mask = np.zeros(len(codes), dtype=bool)
    mask[held] = True
    counts = np.bincount(codes)
    held_counts = np.bincount(codes[mask], minlength=len(counts))
    rng = np.random.default_rng(seed)
    for code in np.flatnonzero((counts >= 2) & ((held_counts == 0) | (held_counts == counts))):
        members = np.flatnonzero(codes == code)
        mask[members[rng.integers(len(members))]] = held_counts[code] == 0
    return np.flatnonzero(mask)


def _allocate(counts: np.ndarray, n: int) -> list[int]:
    """Rows to take per class: proportional to ``counts``, at least 1, at most the class size."""
    quota = counts * n / counts.sum()
    take = np.clip(np.floor(quota).astype(int), 1, counts)
    while take.sum() < n:  # give to the class furthest below its quota (lowest code on ties)
        room = np.where(take < counts, quota - take, -np.inf)
        take[int(np.argmax(room))] += 1
    while take.sum() > max(n, len(counts)):  # take from the class furthest above its quota
        excess = np.where(take > 1, take - quota, -np.inf)
        take[int(np.argmax(excess))] -= 1
    return take.tolist()


def spread_positions(total: int, n: int, seed: int = 0) -> list[int]:
    """``n`` of ``range(total)`` drawn at random with ``seed``, in order: the examples a ``--limit`` picks from a
    split that may be sorted by label (the first ``n`` could all be one class), the same ones every time.

    Example:
        >>> spread_positions(10, 3) == spread_positions(10, 3), spread_positions(3, 5)
        (True, [0, 1, 2])
    """
    if n >= total:
        return list(range(total))
    return np.sort(np.random.default_rng(seed).permutation(total)[:n]).tolist()
