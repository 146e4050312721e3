"""The classification task's tiny dataset: three-class sentiment CSVs whose words decide the class.

Example:
    >>> make_sentiment_rows(2, seed=0)[0]["label"]
    'pos'
"""

from __future__ import annotations

import csv
import random
from pathlib import Path

from finegrain.tasks.tiny import FILLER, WORDS

__all__ = ["make_sentiment_rows", "write_csv", "tiny_dataset"]


def make_sentiment_rows(n: int, seed: int = 0) -> list[dict[str, str]]:
    """Synthetic, learnable 3-class sentiment rows: the label's words decide the class."""
    rng = random.Random(seed)
    labels = list(WORDS)
    rows = []
    for i in range(n):
        label = labels[i % len(labels)]
        words = rng.sample(FILLER, rng.randint(2, 6)) + rng.sample(WORDS[label], rng.randint(1, 3))
        rng.shuffle(words)
        rows.append({"text": " ".join(words), "label": label})
    return rows


def write_csv(path: Path, rows: list[dict[str, str]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return path


def tiny_dataset(folder: Path) -> dict[str, str]:
    """train/validation/test CSVs (text,label) of 120/30/30 rows: the data section of a run config."""
    return {name: str(write_csv(folder / f"{name}.csv", make_sentiment_rows(n, seed=seed)))
            for name, n, seed in (("train", 120, 1), ("validation", 30, 2), ("test", 30, 3))}
