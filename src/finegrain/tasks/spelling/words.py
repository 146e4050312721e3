"""Words as English spelling correction (``level: word``) reads them: runs of letters (with inner apostrophes),
numbers, and every other visible character on its own; whitespace separates and is never a word.

A source and its target are compared word for word, so a word-level pair must have as many words on both
sides; a misspelling that splits a word ("alot" -> "a lot") is a grammar edit, not a spelling one.
Everything that reads English text for spelling (the task, the synthetic data, the baselines) uses these
spans, so a word means the same thing everywhere.

Example:
    >>> words("I can't beleive it's 3.5 km!")
    ['I', "can't", 'beleive', "it's", '3.5', 'km', '!']
    >>> [(s.start, s.end) for s in word_spans("Teh cat")]
    [(0, 3), (4, 7)]
    >>> with_case("Teh", "the"), with_case("TEH", "the"), with_case("teh", "the")
    ('The', 'THE', 'the')
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["WordSpan", "word_spans", "words", "with_case", "is_word"]

_WORD = re.compile(r"[^\W\d_]+(?:['’][^\W\d_]+)*|\d+(?:[.,]\d+)*|\S")
_LETTERS = re.compile(r"[^\W\d_]")


@dataclass(frozen=True)
class WordSpan:
    text: str
    start: int  # character offset in the text
    end: int


def word_spans(text: str) -> list[WordSpan]:
    """Every word of ``text`` with its character offsets, in order."""
    return [WordSpan(m.group(), m.start(), m.end()) for m in _WORD.finditer(text)]


def words(text: str) -> list[str]:
    return [m.group() for m in _WORD.finditer(text)]


def is_word(token: str) -> bool:
    """True for a token that holds a letter: only those are ever corrected (numbers and punctuation never are)."""
    return bool(_LETTERS.search(token))


def with_case(written: str, correction: str) -> str:
    """``correction`` in the case pattern of ``written``: all capitals, a capital first letter, or as given.
    An uncased model proposes lower-case words; the text keeps the case its writer chose."""
    if len(written) > 1 and written.isupper():
        return correction.upper()
    if written[:1].isupper():
        return correction[:1].upper() + correction[1:]
    return correction
