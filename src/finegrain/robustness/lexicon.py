"""The word lists the perturbations draw from: keyboard neighbours, stopwords, contractions, person and place
names, and real misspellings (codespell's dictionary, read from its pinned wheel, never imported).

Example:
    >>> sorted(KEYBOARD["s"])[:3]
    ['a', 'd', 'e']
"""

from __future__ import annotations

from functools import lru_cache

from finegrain.data.misspellings import CODESPELL, KEYBOARD  # pinned and drawn once, beside the English spelling data
from finegrain.data.package_wheels import read_wheel_file, wheel_available

__all__ = ["KEYBOARD", "STOPWORDS", "CONTRACTIONS", "FIRST_NAMES", "LAST_NAMES", "PLACES", "EMOJI",
           "CODESPELL", "misspellings", "misspellings_available"]


# Function words an attack leaves alone (changing them changes the grammar, not a word's meaning)
STOPWORDS = frozenset("""a an the and or but if then so of to in on at by for with from as is are was were be been
being am do does did have has had i me my we our you your he him his she her it its they them their this that these
those there here what which who whom whose when where why how not no nor than too very can will just should would
could may might must shall up down out over under again once all any both each few more most other some such only own
same into through during before after above below between off about against s t don doesn didn isn aren wasn""".split())

CONTRACTIONS = {"do not": "don't", "does not": "doesn't", "did not": "didn't", "is not": "isn't", "are not": "aren't",
                "was not": "wasn't", "were not": "weren't", "can not": "can't", "cannot": "can't", "will not": "won't",
                "would not": "wouldn't", "should not": "shouldn't", "could not": "couldn't", "have not": "haven't",
                "has not": "hasn't", "it is": "it's", "that is": "that's", "i am": "i'm", "you are": "you're",
                "we are": "we're", "they are": "they're", "i have": "i've", "i will": "i'll", "let us": "let's"}

FIRST_NAMES = ("James", "Mary", "John", "Linda", "Robert", "Susan", "Michael", "Karen", "David", "Lisa", "Daniel",
               "Emma", "Thomas", "Anna", "Paul", "Laura", "Mark", "Sarah", "Peter", "Julia", "Ahmed", "Mei", "Carlos",
               "Priya", "Olga", "Kenji", "Fatima", "Lucas", "Amara", "Ivan")
LAST_NAMES = ("Smith", "Johnson", "Brown", "Garcia", "Miller", "Davis", "Wilson", "Taylor", "Clark", "Lewis",
              "Walker", "Young", "Allen", "King", "Wright", "Lopez", "Hill", "Green", "Adams", "Baker", "Nguyen",
              "Khan", "Rossi", "Muller", "Tanaka", "Silva", "Kowalski", "Novak", "Okafor", "Larsen")
# One-word places first (a same-length swap of a one-word entity draws from them), then two-word ones
PLACES = ("London", "Paris", "Berlin", "Madrid", "Rome", "Tokyo", "Beijing", "Moscow", "Cairo", "Lagos", "Toronto",
          "Chicago", "Boston", "Sydney", "Mumbai", "Dublin", "Vienna", "Lisbon", "Oslo", "Seoul", "France", "Germany",
          "Spain", "Italy", "Japan", "China", "Brazil", "Canada", "Kenya", "India", "Mexico", "Egypt", "Texas",
          "California", "Florida", "New York", "Los Angeles", "San Francisco", "Hong Kong", "New Delhi",
          "South Africa", "New Zealand", "Buenos Aires", "Rio de Janeiro")
EMOJI = ("😀", "😂", "🙂", "😍", "😢", "😡", "👍", "🔥", "🎉", "🤔")

_DICTIONARY = "codespell_lib/data/dictionary.txt"


def misspellings_available() -> bool:
    """True when codespell's dictionary can be read without a download."""
    return wheel_available(CODESPELL)


@lru_cache(maxsize=1)
def misspellings() -> dict[str, tuple[str, ...]]:
    """Correct word -> the real misspellings codespell lists for it (lines ``misspelling->correct``; only
    one-word lowercase corrections, so a swap keeps the word count)."""
    text = read_wheel_file(CODESPELL, _DICTIONARY).decode("utf-8")
    table: dict[str, list[str]] = {}
    for line in text.splitlines():
        wrong, _, right = line.partition("->")
        right = right.strip()
        if right and "," not in right and right.isalpha() and right.islower() and wrong.isalpha():
            table.setdefault(right, []).append(wrong)
    return {word: tuple(sorted(wrong)) for word, wrong in table.items()}
