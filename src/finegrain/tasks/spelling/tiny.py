"""The spelling task's tiny dataset for the contract tests: letter strings (each letter is one token of the tests'
tiny vocabulary) built from the tiny words, about half with one letter swapped for a look-alike.

Example:
    >>> rows = make_spelling_rows(4, seed=0)
    >>> all(len(r["source"]) == len(r["target"]) for r in rows)
    True
"""

from __future__ import annotations

import json
import random
from pathlib import Path

from finegrain.tasks.tiny import FILLER, WORDS

__all__ = ["make_spelling_rows", "make_word_spelling_rows", "tiny_dataset"]

_SWAPS = {"o": "a", "a": "o", "e": "i", "i": "e", "d": "t", "t": "d", "s": "z", "n": "m", "m": "n"}
_WORDS = sorted({w for words in WORDS.values() for w in words} | set(FILLER))


def make_spelling_rows(n: int, seed: int = 0) -> list[dict[str, str]]:
    """``n`` pairs of lowercase letter strings; every second one has one letter swapped by ``_SWAPS``."""
    rng = random.Random(seed)
    rows = []
    for i in range(n):
        target = "".join(c for w in rng.sample(_WORDS, 3) for c in w.lower() if c.isalpha())
        chars = list(target)
        if i % 2 == 0:
            positions = [p for p, c in enumerate(chars) if c in _SWAPS]
            if positions:
                p = rng.choice(positions)
                chars[p] = _SWAPS[chars[p]]
        rows.append({"source": "".join(chars), "target": target})
    return rows


def make_word_spelling_rows(n: int, seed: int = 0) -> list[dict[str, str]]:
    """``n`` English-like pairs of four tiny words (the first capitalised); every second one has one word
    misspelled (two neighbouring letters swapped), for the word level.

    Example:
        >>> make_word_spelling_rows(1, seed=0)[0]["source"] != make_word_spelling_rows(1, seed=0)[0]["target"]
        True
    """
    rng = random.Random(seed)
    rows = []
    for i in range(n):
        chosen = rng.sample(_WORDS, 4)
        written = list(chosen)
        if i % 2 == 0:
            at = rng.choice([j for j, w in enumerate(chosen) if len(w) >= 4])
            word, k = chosen[at], rng.randrange(len(chosen[at]) - 1)
            written[at] = word[:k] + word[k + 1] + word[k] + word[k + 2:] if word[k] != word[k + 1] else word + word[-1]
        rows.append({"source": " ".join(written).capitalize() + ".", "target": " ".join(chosen).capitalize() + "."})
    return rows


def tiny_dataset(folder: Path) -> dict[str, str]:
    """train/validation/test JSON lines ({"source", "target"}) of 120/30/30 pairs."""
    paths = {}
    for name, n, seed in (("train", 120, 1), ("validation", 30, 2), ("test", 30, 3)):
        path = folder / f"{name}.jsonl"
        path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in make_spelling_rows(n, seed)),
                        encoding="utf-8")
        paths[name] = str(path)
    return paths
