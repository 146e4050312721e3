"""Chinese character confusion sets read from the pinned ``pycorrector`` wheel (never imported): characters
pronounced alike (``same_pinyin.txt``), written alike (``same_stroke.txt``) and the common characters
(``common_char_set.txt``). Spelling data injects errors with them, the n-gram corrector proposes from them and
error analysis names each confusion by them. The correctors may also propose the common characters that
``pypinyin`` (MIT; its ``pinyin_dict.json`` read from the pinned wheel, never imported) reads with the same
syllable as their first reading, tones aside (:func:`sound_alike_sets`): pycorrector's table has no entry for 他 and
misses 身 -> 什.

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
import json
import re
import unicodedata
from collections import defaultdict
from dataclasses import dataclass

from finegrain.data.package_wheels import PinnedWheel, read_wheel_file

__all__ = ["PYCORRECTOR", "PYPINYIN", "ConfusionSets", "confusion_sets", "parse_same_pinyin", "parse_same_stroke",
           "parse_pinyin_dict", "sound_alike_sets", "SAME_PRONUNCIATION", "SAME_SHAPE", "OTHER"]

PYCORRECTOR = PinnedWheel("pycorrector", "1.1.4", "pycorrector-1.1.4-py3-none-any.whl",
                          "62fba7a2573ff011b4c57f1fff301a7015cab339c567991aa0bb6ff53248b322")
PYPINYIN = PinnedWheel("pypinyin", "0.55.0", "pypinyin-0.55.0-py2.py3-none-any.whl",
                       "d53b1e8ad2cdb815fb2cb604ed3123372f5a28c6f447571244aca36fc62a286f")
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


def _toneless(reading: str) -> str:
    """'lǜ' -> 'lu': tone marks and the diaeresis dropped (learners confuse 女 nǚ and 奴 nú too)."""
    return "".join(c for c in unicodedata.normalize("NFD", reading) if unicodedata.category(c) != "Mn")


def _near(syllable: str) -> str:
    """A syllable as accents blur it: zh/ch/sh as z/c/s, l as n, -ng as -n ('ying' -> 'yin', 'shen' -> 'sen')."""
    return re.sub(r"(?<=[iea])ng$", "n", re.sub(r"^l", "n", re.sub(r"^([zcs])h", r"\1", syllable)))


def parse_pinyin_dict(text: str, characters: str, near: bool = False) -> dict[str, str]:
    """pypinyin's ``pinyin_dict.json`` (code point -> readings, commas between) -> for each of ``characters``,
    the others of ``characters`` whose first reading has the same syllable, tones aside (``near``: also
    zh/z, ch/c, sh/s, l/n and -ng/-n alike).

    Example:
        >>> table = '{"20182": "tā,tuó", "22905": "tā", "22823": "dà,dài", "24212": "yīng", "22240": "yīn"}'
        >>> parse_pinyin_dict(table, "他她大应因")
        {'他': '她', '她': '他'}
        >>> parse_pinyin_dict(table, "他她大应因", near=True)["应"]
        '因'
    """
    allowed, by_syllable = set(characters), defaultdict(list)
    for code, readings in json.loads(text).items():
        char = chr(int(code))
        if char in allowed:
            syllable = _toneless(readings.split(",")[0])
            by_syllable[_near(syllable) if near else syllable].append(char)
    return {char: "".join(other for other in chars if other != char)
            for chars in by_syllable.values() if len(chars) > 1 for char in chars}


@functools.cache
def sound_alike_sets(near: bool = False) -> dict[str, str]:
    """Per common character, the common characters read alike (first readings, tones aside; ``near``: as
    :func:`parse_pinyin_dict` blurs them), from the pinned pypinyin wheel (downloaded once into the cache)."""
    text = read_wheel_file(PYPINYIN, "pypinyin/pinyin_dict.json").decode("utf-8")
    return parse_pinyin_dict(text, confusion_sets().common, near)
