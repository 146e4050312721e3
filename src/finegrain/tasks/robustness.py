"""What a task declares so that ``finegrain robustness`` can perturb and attack its inputs: its labelled examples
as word sequences (NER: with their tags aligned), how a perturbed example goes back to a labelled frame and to a
``predict`` input, and when a prediction is right or has changed.

The perturbations and attacks (:mod:`finegrain.robustness`) only call these; they never name a task's labels.
A :class:`Sentence` keeps, for every word, the index of the original word it came from (None for an added
word), so that a token-level prediction is compared word by word across a perturbation that adds or drops words.

Example:
    >>> sentence = Sentence.from_text("a good film.")
    >>> sentence.splice(1, ["great"]).text()
    'a great film.'
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

import pandas as pd

from finegrain.data.split import Split
from finegrain.tasks.explaining import Target, text_words

__all__ = ["Sentence", "Example", "RobustView"]


@dataclass(frozen=True)
class Sentence:
    """One text field as words: ``spaces[i]`` is what follows word i, ``lead`` what precedes the first one;
    ``tags`` the gold tag of each word (NER, else None); ``origin`` the original word each came from."""

    words: tuple[str, ...]
    spaces: tuple[str, ...]
    lead: str = ""
    tags: tuple[str, ...] | None = None
    origin: tuple[int | None, ...] | None = None  # None: every word is the original word at its place

    @classmethod
    def from_text(cls, text: str) -> Sentence:
        """The words of a text as ``finegrain explain`` splits it (punctuation marks are words)."""
        found = text_words(text, "text")
        if not found:
            return cls((), (), text)
        spaces = [text[a.end:b.start] for a, b in zip(found, found[1:])] + [text[found[-1].end:]]
        return cls(tuple(w.text for w in found), tuple(spaces), text[:found[0].start])

    @classmethod
    def from_tokens(cls, tokens: Sequence[str], tags: Sequence[str] | None) -> Sentence:
        return cls(tuple(tokens), tuple(" " for _ in tokens), "", None if tags is None else tuple(tags))

    def text(self) -> str:
        return (self.lead + "".join(w + s for w, s in zip(self.words, self.spaces))).strip()

    def origins(self) -> tuple[int | None, ...]:
        return self.origin if self.origin is not None else tuple(range(len(self.words)))

    def splice(self, index: int, words: Sequence[str], tags: Sequence[str] | None = None, *,
               drop: int = 1) -> Sentence:
        """Words ``[index, index + drop)`` replaced by ``words``, which are spaced by one space (``drop=0``
        inserts before word ``index``). Tags: those given, else the first dropped word's for the first new word
        and ``O`` for the others; the first new word keeps the first dropped word's origin, the others are new."""
        words, origins = tuple(words), self.origins()
        first_origin = origins[index] if drop else None
        spaces = list(self.spaces)
        if drop:
            new_spaces = [" "] * (len(words) - 1) + [self.spaces[index + drop - 1]] if words else []
        else:
            new_spaces = [" "] * len(words)
            if index and words:  # the word before now needs a space after it; appended words end the text
                before, spaces[index - 1] = spaces[index - 1], spaces[index - 1] or " "
                if index == len(self.words):
                    new_spaces[-1] = before
        new_tags = None
        if self.tags is not None:
            first = self.tags[index] if drop else "O"
            given = tuple(tags) if tags is not None else ((first,) + ("O",) * (len(words) - 1))[:len(words)]
            new_tags = self.tags[:index] + given + self.tags[index + drop:]
        return replace(self, words=self.words[:index] + words + self.words[index + drop:],
                       spaces=tuple(spaces[:index] + new_spaces + spaces[index + drop:]), tags=new_tags,
                       origin=origins[:index] + ((first_origin,) + (None,) * (len(words) - 1))[:len(words)]
                       + origins[index + drop:])


@dataclass(frozen=True)
class Example:
    """One labelled input: its text fields as sentences (a pair has two) and its gold label (NER: None, the tags
    are in the sentence); ``row`` its position in the split it came from."""

    fields: tuple[Sentence, ...]
    label: Any
    row: int

    def with_fields(self, fields: Sequence[Sentence]) -> Example:
        return replace(self, fields=tuple(fields))


@dataclass(frozen=True)
class RobustView:
    """A task's robustness seam (``Task.robustness``)."""

    # a checked labelled split -> its examples
    examples: Callable[[Split], list[Example]]
    # examples -> a frame of the task's canonical labelled columns, which ``task.check`` reads
    frame: Callable[[Sequence[Example]], pd.DataFrame]
    # one example as ``predict`` takes it (a text, a pair, a token list): its words are ``ExplainView.words``'s
    input: Callable[[Example], Any]
    # (prediction, example) -> whether it is right
    correct: Callable[[dict[str, Any], Example], bool]
    # (clean prediction, clean example, perturbed prediction, perturbed example) -> whether the prediction changed
    changed: Callable[[dict[str, Any], Example, dict[str, Any], Example], bool]
    # (example, the run's label names) -> the gold outputs whose summed probability an attack lowers
    gold: Callable[[Example, Sequence[str]], Target]
    # example -> indices of its words (over all fields) an attack must leave alone: entities
    protected: Callable[[Example], set[int]]
    token_level: bool = False  # words are the task's tokens with aligned tags: no perturbation may split a word
    # why attacks and directional tests cannot be used, or None (multi-label: no one gold class to push away from)
    no_attack: str | None = None
    classes: bool = True  # one class per input: directional and minimum-functionality tests can name a label
