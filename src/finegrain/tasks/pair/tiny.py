"""The pair task's tiny dataset: two short texts that match when they share their key word.

Example:
    >>> sorted({row["label"] for row in make_pair_rows(4, seed=0)})
    ['different', 'same']
"""

from __future__ import annotations

import random
from pathlib import Path

from finegrain.tasks.classification.tiny import write_csv
from finegrain.tasks.tiny import FILLER, WORDS

__all__ = ["make_pair_rows", "tiny_dataset"]

_KEYS = sorted(word for words in WORDS.values() for word in words)


def _side(rng: random.Random, key: str) -> str:
    words = rng.sample(FILLER, rng.randint(1, 4)) + [key]
    rng.shuffle(words)
    return " ".join(words)


def make_pair_rows(n: int, seed: int = 0) -> list[dict[str, str]]:
    """``n`` learnable pairs, half 'same' (both sides hold one key word) and half 'different' (two key words)."""
    rng = random.Random(seed)
    rows = []
    for i in range(n):
        first, other = rng.sample(_KEYS, 2)
        same = i % 2 == 0
        rows.append({"text": _side(rng, first), "text_pair": _side(rng, first if same else other),
                     "label": "same" if same else "different"})
    return rows


def tiny_dataset(folder: Path) -> dict[str, str]:
    """train/validation/test CSVs (text,text_pair,label) of 120/30/30 pairs: the data section of a run config."""
    return {name: str(write_csv(folder / f"{name}.csv", make_pair_rows(n, seed=seed)))
            for name, n, seed in (("train", 120, 1), ("validation", 30, 2), ("test", 30, 3))}
