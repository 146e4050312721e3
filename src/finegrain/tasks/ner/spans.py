"""Raw text -> words with character offsets, and predicted tags -> entities with offsets.

Prediction on raw text needs the same kind of words the model was trained on, and entities that
point back into the original string. Space-separated scripts give words (with punctuation at a
word's edges split off, as in CoNLL-style corpora, so "Paris." yields the entity "Paris");
Chinese and Japanese characters (ideographs, kana) and CJK punctuation are one token each, as
in character-level corpora. Detection is per character, so mixed text works.

Example:
    >>> text = "Ada Lovelace visited 北京."
    >>> words = split_words(text)
    >>> [w for w, _, _ in words]
    ['Ada', 'Lovelace', 'visited', '北', '京', '.']
    >>> tags = ["B-PER", "I-PER", "O", "B-LOC", "I-LOC", "O"]
    >>> [(e["text"], e["type"]) for e in spans_from_tags(words, tags, [0.9] * 6, "IOB2", text=text)]
    [('Ada Lovelace', 'PER'), ('北京', 'LOC')]
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from finegrain.tasks.ner.schemes import to_spans

__all__ = ["Word", "is_cjk", "split_words", "spans_from_tags"]

Word = tuple[str, int, int]
"""(word, first character, end character exclusive) in the original text."""

_CJK_RANGES = (
    (0x2E80, 0x2FDF),  # CJK radicals, Kangxi radicals
    (0x3000, 0x303F),  # CJK symbols and punctuation (、。「」)
    (0x3040, 0x30FF),  # Hiragana, Katakana
    (0x31F0, 0x31FF),  # Katakana phonetic extensions
    (0x3400, 0x4DBF),  # CJK extension A
    (0x4E00, 0x9FFF),  # CJK unified ideographs
    (0xF900, 0xFAFF),  # CJK compatibility ideographs
    (0xFF00, 0xFF0F), (0xFF1A, 0xFF20), (0xFF3B, 0xFF40), (0xFF5B, 0xFF65),  # fullwidth punctuation
    (0xFF66, 0xFF9F),  # halfwidth Katakana
    (0x20000, 0x323AF),  # CJK extensions B-H
)
_CHARACTER_LANGUAGES = {"zh", "ja"}
_OPENING = "\"'([{<«‘“¿¡"
_CLOSING = "\"')]}>»’”.,;:!?…"
_CHUNK = re.compile(r"\S+")


def is_cjk(character: str) -> bool:
    """True for a Chinese/Japanese ideograph, kana, or CJK/fullwidth punctuation character."""
    code = ord(character)
    return any(low <= code <= high for low, high in _CJK_RANGES)


def _edge_split(chunk: str, offset: int) -> list[Word]:
    """Split opening punctuation off the front and closing punctuation off the back of a chunk.

    A final '.' stays when the chunk holds another '.', so abbreviations like 'U.S.' survive.
    """
    start, end = 0, len(chunk)
    while start < end and chunk[start] in _OPENING:
        start += 1
    keep_dot = chunk.count(".") > 1 and chunk.endswith(".") and start < end - 1
    while end > start and chunk[end - 1] in _CLOSING and not (keep_dot and end == len(chunk)):
        end -= 1
    pieces = [(c, offset + i, offset + i + 1) for i, c in enumerate(chunk[:start])]
    if start < end:
        pieces.append((chunk[start:end], offset + start, offset + end))
    pieces.extend((c, offset + end + i, offset + end + i + 1) for i, c in enumerate(chunk[end:]))
    return pieces


def _script_runs(chunk: str, offset: int, every_character: bool) -> list[tuple[str, int, bool]]:
    """Runs of a whitespace-free chunk: (text, start, single) where single means one token per char."""
    runs: list[tuple[str, int, bool]] = []
    for i, character in enumerate(chunk):
        single = every_character or is_cjk(character)
        if single or not runs or runs[-1][2]:
            runs.append((character, offset + i, single))
        else:
            text, start, _ = runs[-1]
            runs[-1] = (text + character, start, False)
    return runs


def split_words(text: str, language: str | None = None, *, split_punctuation: bool = True) -> list[Word]:
    """Words of ``text`` with character offsets.

    ``language`` "zh" or "ja" (or "zh-Hans" etc.) makes every non-space character a token,
    matching character-level Chinese/Japanese corpora whose digits and Latin letters are also
    single tokens; otherwise CJK characters are single tokens and other runs are words.
    """
    every_character = (language or "").lower().split("-")[0] in _CHARACTER_LANGUAGES
    words: list[Word] = []
    for match in _CHUNK.finditer(text):
        for run, start, single in _script_runs(match.group(), match.start(), every_character):
            if single or not split_punctuation:
                words.append((run, start, start + len(run)))
            else:
                words.extend(_edge_split(run, start))
    return words


def _span_text(words: Sequence[Word], first: int, last: int, text: str | None) -> str:
    start, end = words[first][1], words[last][2]
    if text is not None:
        return text[start:end]
    pieces = [words[first][0]]
    for previous, word in zip(words[first:last], words[first + 1 : last + 1]):
        pieces.append(" " * (word[1] - previous[2]) + word[0])
    return "".join(pieces)


def spans_from_tags(
    words_with_offsets: Sequence[Word], tags: Sequence[str], scores: Sequence[float], scheme: str,
    *, text: str | None = None,
) -> list[dict[str, Any]]:
    """Entities ``{"type", "start", "end", "text", "score"}`` with character offsets.

    ``scores`` holds one confidence per word; an entity's score is the mean over its words.
    Pass the original ``text`` to copy entity text from it exactly; without it, gaps between
    words are rendered as spaces.
    """
    if not len(words_with_offsets) == len(tags) == len(scores):
        raise ValueError(f"{len(words_with_offsets)} words, {len(tags)} tags, {len(scores)} scores")
    entities = []
    for entity_type, first, end in to_spans(tags, scheme):
        entities.append({
            "type": entity_type,
            "start": words_with_offsets[first][1],
            "end": words_with_offsets[end - 1][2],
            "text": _span_text(words_with_offsets, first, end - 1, text),
            "score": float(sum(scores[first:end]) / (end - first)),
        })
    return entities
