"""The NER task's tiny dataset: CoNLL sentences whose positive words are B-POS, negative ones B-NEG.

Example:
    >>> len(tagged_sentences(3, seed=0))
    3
"""

from __future__ import annotations

import random
from pathlib import Path

from finegrain.tasks.tiny import FILLER, WORDS

__all__ = ["TAGS", "tagged_sentences", "write_conll", "tiny_dataset"]

TAGS = {**{w: "B-POS" for w in WORDS["pos"]}, **{w: "B-NEG" for w in WORDS["neg"]}}


def tagged_sentences(n: int, seed: int) -> list[list[tuple[str, str]]]:
    """Learnable (word, tag) sentences: a few filler or neutral words and two sentiment words, shuffled."""
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        words = rng.sample(FILLER + WORDS["neu"], rng.randint(2, 5)) + rng.sample(WORDS["pos"] + WORDS["neg"], 2)
        rng.shuffle(words)
        out.append([(word, TAGS.get(word, "O")) for word in words])
    return out


def write_conll(path: Path, n: int, seed: int) -> str:
    """``n`` tagged sentences as a CoNLL file (``word<TAB>tag``, a blank line between sentences)."""
    sentences = ("\n".join(f"{word}\t{tag}" for word, tag in sentence) for sentence in tagged_sentences(n, seed))
    path.write_text("\n\n".join(sentences) + "\n", encoding="utf-8")
    return str(path)


def tiny_dataset(folder: Path) -> dict[str, str]:
    """train/validation/test CoNLL files of 120/30/30 sentences: the data section of a run config."""
    return {name: write_conll(folder / f"{name}.conll", n, seed)
            for name, n, seed in (("train", 120, 1), ("validation", 30, 2), ("test", 30, 3))}
