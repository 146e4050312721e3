"""Candidate words within two edits, from symspellpy's shipped English frequency dictionary (82,765 words): what
the word level's ``candidates: symspell`` restricts the model's proposals to (the model reranks symspell's
candidates by context), and what the ``symspell`` baseline picks from by frequency alone.

symspellpy is in finegrain's ``spelling`` extra; without it the error says how to install it.

Example:
    >>> "believe" in symspell_candidates("beleive")
    True
"""

from __future__ import annotations

import importlib.resources
from functools import lru_cache
from typing import Any

from finegrain.errors import ConfigError

__all__ = ["MAX_DISTANCE", "symspell", "symspell_candidates"]

MAX_DISTANCE = 2  # SymSpell's usual setting: nearly all real misspellings are within two edits
_DICTIONARY = "frequency_dictionary_en_82_765.txt"


@lru_cache(maxsize=1)
def symspell() -> Any:
    """A SymSpell index over the shipped dictionary (built once per process, about 2 s)."""
    try:
        from symspellpy import SymSpell
    except ImportError:
        raise ConfigError("English spelling candidates need symspellpy, which is not installed.",
                          where="task.candidates", hint="pip install 'finegrain[spelling]' (or make setup), or set"
                                                        " task.candidates: model.") from None
    index = SymSpell(max_dictionary_edit_distance=MAX_DISTANCE, prefix_length=7)
    path = importlib.resources.files("symspellpy") / _DICTIONARY
    if not index.load_dictionary(str(path), term_index=0, count_index=1, encoding="utf-8"):
        raise ConfigError(f"symspellpy's dictionary {_DICTIONARY} could not be read.", where=str(path),
                          hint="reinstall symspellpy (pip install --force-reinstall symspellpy).")
    return index


@lru_cache(maxsize=200_000)
def symspell_candidates(word: str) -> frozenset[str]:
    """Every dictionary word within :data:`MAX_DISTANCE` edits of ``word`` (lower-cased), itself included when known."""
    from symspellpy import Verbosity

    found = symspell().lookup(word.lower(), Verbosity.ALL, max_edit_distance=MAX_DISTANCE)
    return frozenset(suggestion.term for suggestion in found)
