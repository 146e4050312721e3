"""``symspell`` and ``pyspellchecker``: context-free English dictionary correctors, as fitted methods of the
word-level spelling task (``task.level: word``), so studies put them beside the trained models.

Each word of :func:`~finegrain.tasks.spelling.words.word_spans` made of letters only (three at least: two-letter
words a dictionary lacks are mostly units and abbreviations, "km" -> "am"; not all capitals: acronyms are left
alone, as are contractions and possessives) that the dictionary does not know and
for which it has a suggestion within edit distance 2 gets that suggestion, in the word's case pattern; every
other word is left alone. Nothing is fitted: the dictionaries are the packages' own (symspellpy's
``frequency_dictionary_en_82_765.txt``, pyspellchecker's English word frequencies).

Answers, per text, one row per word of ``word_spans(text)`` (a numpy array of dtype object, shape (words, 3)):
``[score, correction, probability]``; a word left alone is ``[UNCHANGED, "", 0.0]``. The probability is fixed
by edit distance, not calibrated: 0.95 at distance 1, 0.5 at distance 2 (two edits are as often a real word
the dictionary lacks as a misspelling); the score is its log-odds, and the task tunes its acceptance threshold
on validation.

Example:
    >>> rows = word_answers(["Recieve 3 apples"], lambda word: ("receive", 1) if word == "recieve" else None)
    >>> [(round(score, 2), correction, probability) for score, correction, probability in rows[0]]
    [(2.94, 'Receive', 0.95), (-30.0, '', 0.0), (-30.0, '', 0.0)]
"""

from __future__ import annotations

import functools
import importlib.util
import json
import math
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from finegrain.config import Section
from finegrain.errors import ConfigError
from finegrain.methods.base import EncoderSource, FittedMethod, MethodBasics
from finegrain.methods.estimators.base import EstimatorContext, FitStats
from finegrain.methods.estimators.spelling_ngram import UNCHANGED
from finegrain.registry import METHODS
from finegrain.tasks.spelling.candidates import symspell
from finegrain.tasks.spelling.words import with_case, word_spans

if TYPE_CHECKING:
    from finegrain.tasks.base import Task

__all__ = ["SymSpellCorrector", "PySpellCheckerCorrector", "word_answers", "check_word_level", "check_installed",
           "DISTANCE_PROBABILITY"]

DISTANCE_PROBABILITY = {1: 0.95, 2: 0.5}  # fixed, not calibrated: the task tunes its threshold on validation
MAX_DISTANCE = 2

Suggest = Callable[[str], "tuple[str, int] | None"]
"""A lower-case word -> (its correction, edit distance), or None when it is known or has no suggestion."""


def correctable(word: str) -> bool:
    """Letters only, three at least, not all capitals (an acronym a dictionary lacks is still right)."""
    return len(word) >= 3 and word.isalpha() and not word.isupper()


def word_answers(texts: list[str], suggest: Suggest) -> list[np.ndarray]:
    """One (words, 3) object array per text: ``[score, correction, probability]`` per word of ``word_spans``."""
    answers = []
    for text in texts:
        spans = word_spans(text)
        rows = np.empty((len(spans), 3), dtype=object)
        rows[:] = (UNCHANGED, "", 0.0)
        for index, span in enumerate(spans):
            found = suggest(span.text.lower()) if correctable(span.text) else None
            if found is not None and found[0] != span.text.lower():
                probability = DISTANCE_PROBABILITY[found[1]]
                rows[index] = (math.log(probability / (1 - probability)), with_case(span.text, found[0]), probability)
        answers.append(rows)
    return answers


def check_word_level(method: MethodBasics, task: Task) -> None:
    """The spelling task at the word level only: a dictionary corrects English words, not Chinese characters."""
    MethodBasics.check_task(method, task)
    level = getattr(task.params, "level", "character")
    if level != "word":
        raise ConfigError(f"Method '{method.name}' corrects English words: it needs the spelling task's word level"
                          f" (task.level: word), found task.level: {level}.", where="task.level",
                          hint="set task: {name: spelling, level: word}; for Chinese characters use char-ngram"
                               " or identity.")


def check_installed(method: MethodBasics, module: str) -> None:
    """The package the method answers with (an optional extra), before anything is read or written."""
    if importlib.util.find_spec(module) is None:
        raise ConfigError(f"Method '{method.name}' needs the package '{module}', which is not installed.",
                          where="method.name", hint="pip install 'finegrain[spelling]'")


class DictionaryParams(Section):
    """No parameters: the package's dictionary and edit distance 2, as the package defaults them."""


def _save_marker(directory: Path, name: str, version: str) -> None:
    directory.mkdir(parents=True, exist_ok=True)  # nothing fitted: which dictionary answered, for the record
    (directory / "dictionary.json").write_text(json.dumps({"method": name, "package_version": version}) + "\n",
                                               encoding="utf-8")


@functools.lru_cache(maxsize=200_000)
def _symspell_suggest(word: str) -> tuple[str, int] | None:
    from symspellpy import Verbosity

    best = symspell().lookup(word, Verbosity.CLOSEST, max_edit_distance=MAX_DISTANCE, include_unknown=True)[0]
    return (best.term, best.distance) if 0 < best.distance <= MAX_DISTANCE else None


@functools.cache
def _pyspellchecker() -> Any:
    from spellchecker import SpellChecker

    return SpellChecker(distance=MAX_DISTANCE)


@functools.lru_cache(maxsize=200_000)  # distance-2 look-ups are slow (seconds for a long unknown name)
def _pyspellchecker_suggest(word: str) -> tuple[str, int] | None:
    checker = _pyspellchecker()
    if word in checker:
        return None
    best = checker.correction(word)
    if best is None or best == word:
        return None
    return best, 1 if best in checker.edit_distance_1(word) else 2


def _version(distribution: str) -> str:
    import importlib.metadata

    return importlib.metadata.version(distribution)


class _DictionaryCorrector(FittedMethod):
    """What both dictionary correctors share; each names its package and how it suggests and counts words."""

    Params: ClassVar[type[DictionaryParams]] = DictionaryParams
    tasks: ClassVar[tuple[str, ...]] = ("spelling",)
    encoder: ClassVar[EncoderSource] = "none"
    module: ClassVar[str]  # the import name, checked before anything runs
    distribution: ClassVar[str]  # the PyPI name, whose version the saved marker records

    def __init__(self, params: DictionaryParams | None = None):
        self.params = params or DictionaryParams()

    @staticmethod
    def suggest(word: str) -> tuple[str, int] | None:
        raise NotImplementedError

    @staticmethod
    def dictionary_size() -> int:
        raise NotImplementedError

    def check_task(self, task: Task) -> None:
        check_word_level(self, task)
        check_installed(self, self.module)

    def fit(self, texts: list[str], targets: np.ndarray, context: EstimatorContext) -> FitStats:
        return FitStats(0, self.dictionary_size())  # nothing fitted; the dictionary's words answer

    def log_probs(self, texts: list[str], context: EstimatorContext | None) -> list[np.ndarray]:
        return word_answers(texts, self.suggest)

    def save(self, directory: Path) -> None:
        _save_marker(directory, self.name, _version(self.distribution))

    def load(self, directory: Path, context: EstimatorContext) -> _DictionaryCorrector:
        return self


@METHODS.register("symspell")
class SymSpellCorrector(_DictionaryCorrector):
    """symspellpy's closest dictionary word within edit distance 2, for words it does not know (English)."""

    name: ClassVar[str] = "symspell"
    module: ClassVar[str] = "symspellpy"
    distribution: ClassVar[str] = "symspellpy"
    suggest = staticmethod(_symspell_suggest)
    dictionary_size = staticmethod(lambda: len(symspell().words))


@METHODS.register("pyspellchecker")
class PySpellCheckerCorrector(_DictionaryCorrector):
    """pyspellchecker's most frequent candidate within edit distance 2, for words it does not know (English)."""

    name: ClassVar[str] = "pyspellchecker"
    module: ClassVar[str] = "spellchecker"
    distribution: ClassVar[str] = "pyspellchecker"
    suggest = staticmethod(_pyspellchecker_suggest)
    dictionary_size = staticmethod(lambda: len(_pyspellchecker().word_frequency.dictionary))
