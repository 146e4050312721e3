"""The grammar task's tiny dataset for the contract tests: short sentences of the tiny words, about half with
one error a tagger learns in a few steps (a doubled word, a dropped first "the", "is" for "was").

Example:
    >>> rows = make_grammar_rows(4, seed=0)
    >>> sum(r["source"] != r["target"] for r in rows)
    2
"""

from __future__ import annotations

import json
import random
from pathlib import Path

from finegrain.tasks.tiny import WORDS

__all__ = ["make_grammar_rows", "tiny_dataset", "write_m2"]

_NOUNS = ["movie", "food", "day", *WORDS["neu"]]
_ADJECTIVES = [*WORDS["pos"], *WORDS["neg"]]


def _corrupt(words: list[str], kind: int, rng: random.Random) -> list[str]:
    if kind == 0:  # a doubled word: $DELETE
        at = rng.randrange(len(words))
        return words[:at + 1] + words[at:]
    if kind == 1:  # the first word dropped: $APPEND_the on $START
        return words[1:]
    return ["is" if w == "was" else w for w in words]  # $REPLACE_was


def make_grammar_rows(n: int, seed: int = 0) -> list[dict[str, str]]:
    """``n`` pairs "the NOUN was (very) ADJ"; every second one with one error."""
    rng = random.Random(seed)
    rows = []
    for i in range(n):
        target = ["the", rng.choice(_NOUNS), "was", *(["very"] if rng.random() < 0.5 else []), rng.choice(_ADJECTIVES)]
        source = _corrupt(target, rng.randrange(3), rng) if i % 2 == 0 else target
        rows.append({"source": " ".join(source), "target": " ".join(target)})
    return rows


def write_m2(path: Path, rows: list[dict[str, str]]) -> Path:
    """The pairs as M2 (one edit per changed pair: the whole sentence replaced, annotator 0)."""
    blocks = []
    for row in rows:
        tokens = row["source"].split()
        edit = ("A -1 -1|||noop|||-NONE-|||REQUIRED|||-NONE-|||0" if row["source"] == row["target"] else
                f"A 0 {len(tokens)}|||R:OTHER|||{row['target']}|||REQUIRED|||-NONE-|||0")
        blocks.append(f"S {row['source']}\n{edit}\n")
    path.write_text("\n".join(blocks), encoding="utf-8")
    return path


def tiny_dataset(folder: Path) -> dict[str, str]:
    """train JSON lines, validation tsv (with a header), test M2: 120/30/30 pairs."""
    train, validation = folder / "train.jsonl", folder / "validation.tsv"
    train.write_text("".join(json.dumps(r) + "\n" for r in make_grammar_rows(120, 1)), encoding="utf-8")
    validation.write_text("source\ttarget\n" + "".join(f"{r['source']}\t{r['target']}\n"
                                                       for r in make_grammar_rows(30, 2)), encoding="utf-8")
    test = write_m2(folder / "test.m2", make_grammar_rows(30, 3))
    return {"train": str(train), "validation": str(validation), "test": str(test)}
