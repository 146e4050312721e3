"""GECToR's edit tags: one tag per source word (and one for a ``$START`` word before the first), derived from a
(source, target) pair by :func:`finegrain.tasks.grammar.alignment.align`, and applied back to a text.

Tags: ``$KEEP``, ``$DELETE``, ``$REPLACE_{w}``, ``$APPEND_{w}`` (insert ``w`` after the word; on ``$START``:
at the beginning), and the transforms of :mod:`finegrain.tasks.grammar.transforms` (case, noun number, verb
form). A word that needs several edits (replaced, then something appended after it) keeps the first one, as
GECToR does per iteration: the next pass over the corrected text makes the rest.

Applying tags edits the text where its words are (character offsets), so everything else, spacing included,
stays as written. Each word of the result remembers the source span it comes from (an appended word: the
empty span after its predecessor), so that passes over passes still point into the original text.

Example:
    >>> source, target = "He go to school", "He goes to the school"
    >>> tags = derive_tags(words(source), words(target))
    >>> tags
    ['$KEEP', '$KEEP', '$TRANSFORM_VERB_VB_VBZ', '$APPEND_the', '$KEEP']
    >>> apply_tags(source, tags).text
    'He goes to the school'
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from finegrain.tasks.grammar.alignment import align
from finegrain.tasks.grammar.transforms import apply_transform, transform_tag
from finegrain.tasks.spelling.words import word_spans, words

__all__ = ["KEEP", "DELETE", "START", "derive_tags", "apply_tags", "Applied", "words"]

KEEP, DELETE, START = "$KEEP", "$DELETE", "$START"
REPLACE, APPEND = "$REPLACE_", "$APPEND_"
_GLUED = set(",.!?;:%)]}")  # punctuation written against the word before it, not after a space
_OPENING = set("([{$")  # ... and punctuation the next word is written against


def derive_tags(source: Sequence[str], target: Sequence[str]) -> list[str]:
    """One tag for ``$START`` and each source word (``len(source) + 1`` tags), the first edit of each."""
    tags = [KEEP] * (len(source) + 1)
    last = 0  # the tag slot an insertion attaches to: $START (0), or the source word before it (i + 1)
    for kind, i, j in align(source, target):
        if kind == "insert":
            if tags[last] == KEEP:
                tags[last] = APPEND + target[j]
            continue
        last = i + 1
        if kind == "delete":
            tags[last] = DELETE
        elif kind == "replace":
            tags[last] = transform_tag(source[i], target[j]) or REPLACE + target[j]
    return tags


@dataclass(frozen=True)
class Applied:
    """A text after one pass of tags: the text, its words, and per word the source span it comes from."""

    text: str
    words: list[str]
    origins: list[tuple[int, int]]


def _changed(tag: str, word: str) -> str | None:
    """The word after a replacing tag; None for $KEEP, $APPEND_ and a transform that does not apply."""
    if tag.startswith(REPLACE):
        return tag[len(REPLACE):]
    if tag.startswith("$TRANSFORM_"):
        return apply_transform(tag, word)
    return None


def _join(words_: Sequence[str]) -> str:
    text = ""
    for word in words_:
        glued = not text or word in _GLUED or text[-1] in _OPENING
        text += word if glued else " " + word
    return text


def apply_tags(text: str, tags: Sequence[str], origins: Sequence[tuple[int, int]] | None = None) -> Applied:
    """``text`` with ``tags`` applied (``tags[0]`` is ``$START``'s, ``tags[i + 1]`` word i's; unknown or
    inapplicable tags keep the word). ``origins``: each word's span in the original source (default: its own)."""
    spans = word_spans(text)
    origins = list(origins) if origins is not None else [(s.start, s.end) for s in spans]
    pieces, at, out_words, out_origins = [], 0, [], []
    first = origins[0][0] if origins else 0
    if tags and tags[0].startswith(APPEND):
        out_words.append(tags[0][len(APPEND):])
        out_origins.append((first, first))
        pieces.append(out_words[-1] + (" " if spans else ""))
    for span, origin, tag in zip(spans, origins, list(tags[1:]) + [KEEP] * (len(spans) + 1 - len(tags))):
        if tag == DELETE:
            end = span.end
            if span.start > at and text[span.start - 1] == " ":
                pieces.append(text[at:span.start - 1])
            else:
                pieces.append(text[at:span.start])
                end += len(text[span.end:]) - len(text[span.end:].lstrip(" ")) if not out_words else 0
            at = end
            continue
        changed = _changed(tag, span.text)
        pieces.append(text[at:span.start] + (changed or span.text))
        at = span.end
        out_words.append(changed or span.text)
        out_origins.append(origin)
        if tag.startswith(APPEND):
            appended = tag[len(APPEND):]
            pieces.append(appended if appended in _GLUED else " " + appended)
            out_words.append(appended)
            out_origins.append((origin[1], origin[1]))
    pieces.append(text[at:])
    result = "".join(pieces)
    if words(result) != out_words:  # glued or split words (a deleted space, a appended apostrophe): rejoin them
        result = _join(out_words)
    return Applied(result, out_words, out_origins)
