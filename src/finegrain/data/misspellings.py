"""Real English misspellings, read from two pinned wheels (never imported), and keyboard-adjacency noise.

- ``nlpaug`` 1.1.11, ``nlpaug/res/word/spelling/spelling_en.txt``: one line per correct word, space-separated,
  the correct word first and its misspellings after it (``ancient acient ancien anciest accient``). nlpaug took
  it from charNMT-noise's ``en.natural`` (Belinkov and Bisk, 2018: corrections mined from Wikipedia edits).
- ``codespell`` 2.4.3, ``codespell_lib/data/dictionary.txt``: ``misspelling->correction`` lines; a line with a
  comma after the arrow (several corrections, or a reason the fix is not automatic) is skipped.

Both are lower-cased and kept where both sides are plain ASCII letters (a misspelling of two letters at least).
A misspelling that is itself one of the
listed correct words (``like`` under ``luck`` in nlpaug's list) is a real-word confusion, not a misspelling a
dictionary can find, and one listed under two correct words would be ambiguous: both are dropped, so each
misspelling belongs to exactly one word.

Example:
    >>> merge_lists({"ancient": ["acient", "Ancient", "luck"], "luck": ["lcuk"]}, {"ancient": ["ancinet"]})
    {'ancient': ['acient', 'ancinet'], 'luck': ['lcuk']}
    >>> sorted(KEYBOARD["s"])[:3]
    ['a', 'd', 'e']
"""

from __future__ import annotations

import functools
import re
from collections import Counter

from finegrain.data.package_wheels import PinnedWheel, read_wheel_file, wheel_available

__all__ = ["NLPAUG", "CODESPELL", "KEYBOARD", "parse_nlpaug", "parse_codespell", "merge_lists", "misspellings",
           "misspelling_counts", "misspellings_available"]

NLPAUG = PinnedWheel("nlpaug", "1.1.11", "nlpaug-1.1.11-py3-none-any.whl",
                     "01d3befce09e46cb7d990839e0b7dd80ba3e991485f772e678d329ffeb97fd80")
CODESPELL = PinnedWheel("codespell", "2.4.3", "codespell-2.4.3-py3-none-any.whl",
                        "af2505b335e8573dbd2d384d1c4ef498f4006f4ba2d6fceca01e55b91f52628a")
_NLPAUG_FILE = "nlpaug/res/word/spelling/spelling_en.txt"
_CODESPELL_FILE = "codespell_lib/data/dictionary.txt"
_LETTERS = re.compile(r"[a-z]+")
_MISSPELLING = re.compile(r"[a-z]{2,}")  # "d" for "the" (codespell) is a stray keystroke, not a word
_ROWS = ("qwertyuiop", "asdfghjkl", "zxcvbnm")

Table = dict[str, list[str]]


def _keyboard() -> dict[str, set[str]]:
    """Each letter's neighbours on a QWERTY keyboard: beside it, and touching it on the rows above and below
    (each row sits half a key right of the one above)."""
    where = {c: (r, i + r / 2) for r, row in enumerate(_ROWS) for i, c in enumerate(row)}
    return {a: {b for b, (rb, xb) in where.items() if b != a and abs(xb - xa) <= (1 if rb == ra else 0.5)
                and abs(rb - ra) <= 1} for a, (ra, xa) in where.items()}


KEYBOARD = _keyboard()


def parse_nlpaug(text: str) -> Table:
    """``correct misspelling ...`` lines -> correct -> misspellings, as written (cleaning is :func:`merge_lists`)."""
    table: Table = {}
    for line in text.splitlines():
        correct, *wrong = line.split()
        table.setdefault(correct, []).extend(wrong)
    return table


def parse_codespell(text: str) -> Table:
    """``misspelling->correction`` lines with a single correction and no reason -> correct -> misspellings."""
    table: Table = {}
    for line in text.splitlines():
        wrong, arrow, right = line.strip().partition("->")
        if arrow and right and "," not in right:
            table.setdefault(right, []).append(wrong)
    return table


def merge_lists(*tables: Table) -> Table:
    """The tables lower-cased, ASCII letters only (misspellings of two letters or more), deduplicated (first
    seen first); misspellings equal to their word, equal to another listed word, or listed under two words dropped."""
    merged: Table = {}
    for table in tables:
        for correct, wrong in table.items():
            correct = correct.lower()
            if _LETTERS.fullmatch(correct):
                merged.setdefault(correct, []).extend(w.lower() for w in wrong if _MISSPELLING.fullmatch(w.lower()))
    owners = Counter(w for correct, wrong in merged.items() for w in set(wrong) - {correct})
    cleaned = {correct: [w for w in dict.fromkeys(wrong) if w != correct and w not in merged and owners[w] == 1]
               for correct, wrong in merged.items()}
    return {correct: wrong for correct, wrong in cleaned.items() if wrong}


def misspellings_available() -> bool:
    """True when both wheels can be read without a download."""
    return wheel_available(NLPAUG) and wheel_available(CODESPELL)


def _read(wheel: PinnedWheel, relative: str) -> str:
    return read_wheel_file(wheel, relative).decode("utf-8")


@functools.cache
def misspellings() -> Table:
    """Correct word -> its real misspellings, from both lists (downloaded once into the cache)."""
    return merge_lists(parse_nlpaug(_read(NLPAUG, _NLPAUG_FILE)), parse_codespell(_read(CODESPELL, _CODESPELL_FILE)))


def misspelling_counts() -> dict[str, int]:
    """Correct words and misspellings per list once cleaned, and of the merged table."""
    counts = {}
    for name, table in (("nlpaug", merge_lists(parse_nlpaug(_read(NLPAUG, _NLPAUG_FILE)))),
                        ("codespell", merge_lists(parse_codespell(_read(CODESPELL, _CODESPELL_FILE)))),
                        ("merged", misspellings())):
        counts[f"{name}_words"] = len(table)
        counts[f"{name}_misspellings"] = sum(len(wrong) for wrong in table.values())
    return counts
