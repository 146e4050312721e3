"""Chinese character confusion sets read from the pinned ``pycorrector`` wheel (never imported): characters
pronounced alike (``same_pinyin.txt``), written alike (``same_stroke.txt``) and the common characters
(``common_char_set.txt``). Spelling data injects errors with them, the n-gram corrector proposes from them and
error analysis names each confusion by them.

File formats, as the 1.1.4 wheel ships them: ``same_pinyin.txt`` is ``char<TAB>same tone<TAB>other tones``
(each a run of characters, a ``#`` header line); ``same_stroke.txt`` one group of look-alike characters per
line, tab-separated; ``common_char_set.txt`` one character per line.

Example:
    >>> sets = ConfusionSets({"他": "她它"}, {"大": "太犬"}, "的是了")
    >>> sets.kind("他", "她"), sets.kind("大", "犬"), sets.kind("大", "是")
    ('same pronunciation', 'same shape', 'other')
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

from finegrain.data.package_wheels import PinnedWheel, read_wheel_file

__all__ = ["PYCORRECTOR", "ConfusionSets", "confusion_sets", "parse_same_pinyin", "parse_same_stroke",
           "SAME_PRONUNCIATION", "SAME_SHAPE", "OTHER"]

PYCORRECTOR = PinnedWheel("pycorrector", "1.1.4", "pycorrector-1.1.4-py3-none-any.whl",
                          "62fba7a2573ff011b4c57f1fff301a7015cab339c567991aa0bb6ff53248b322")
SAME_PRONUNCIATION, SAME_SHAPE, OTHER = "same pronunciation", "same shape", "other"


@dataclass(frozen=True)
class ConfusionSets:
    """Per character, the characters pronounced alike and those written alike; and the common characters."""

    pinyin: dict[str, str]
    shape: dict[str, str]
    common: str

    def kind(self, original: str, replacement: str) -> str:
        """How ``replacement`` relates to ``original``: same pronunciation, same shape or other."""
        if replacement in self.pinyin.get(original, "") or original in self.pinyin.get(replacement, ""):
            return SAME_PRONUNCIATION
        if replacement in self.shape.get(original, "") or original in self.shape.get(replacement, ""):
            return SAME_SHAPE
        return OTHER

    def candidates(self, char: str) -> str:
        """The characters ``char`` is confused with (pronunciation first), without repeats or itself."""
        return "".join(dict.fromkeys(c for c in self.pinyin.get(char, "") + self.shape.get(char, "") if c != char))


def parse_same_pinyin(text: str) -> dict[str, str]:
    """``char<TAB>same tone<TAB>other tones`` lines -> char -> the characters of both columns."""
    table: dict[str, str] = {}
    for line in text.splitlines():
        parts = line.split("\t")
        if len(parts) < 2 or line.startswith("#") or len(parts[0]) != 1:
            continue
        table[parts[0]] = "".join(dict.fromkeys("".join(parts[1:]).replace(" ", "")))
    return table


def parse_same_stroke(text: str) -> dict[str, str]:
    """Groups of look-alike characters, one group a line -> char -> the others of its groups."""
    table: dict[str, str] = {}
    for line in text.splitlines():
        group = [c for c in line.split("\t") if len(c) == 1]
        for char in group:
            table[char] = "".join(dict.fromkeys(table.get(char, "") + "".join(c for c in group if c != char)))
    return table


@functools.cache
def confusion_sets() -> ConfusionSets:
    """The sets of the pinned wheel (downloaded once into the cache)."""
    def read(name: str) -> str:
        return read_wheel_file(PYCORRECTOR, f"pycorrector/data/{name}").decode("utf-8")

    common = "".join(line.strip() for line in read("common_char_set.txt").splitlines() if len(line.strip()) == 1)
    return ConfusionSets(parse_same_pinyin(read("same_pinyin.txt")), parse_same_stroke(read("same_stroke.txt")),
                         common)
