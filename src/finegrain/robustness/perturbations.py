"""Label-preserving perturbations (CheckList's invariance tests): each maps a :class:`Sentence` to a perturbed
copy, or None where it does not apply (no name to swap, no contraction). Seeded per example, so a suite gives
the same texts whatever the order or the number of examples.

A perturbation never splits a word of a token-level task: NER tags stay one per word, added words are ``O``,
and a swapped entity keeps its length and its tags.

Example:
    >>> perturb(PERTURBATIONS.get("add-url"), Example((Sentence.from_text("good film"),), "pos", 0), seed=0)
    ... # doctest: +ELLIPSIS
    Example(fields=(Sentence(words=('good', 'film', 'https://t.co/...'), ...
"""

from __future__ import annotations

import random
import string
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from finegrain.registry import Registry
from finegrain.robustness import lexicon
from finegrain.tasks.ner.schemes import split_tag
from finegrain.tasks.robustness import Example, Sentence

__all__ = ["Perturbation", "PERTURBATIONS", "perturb", "keyboard_typo", "match_case", "DEFAULT_SUITE"]

Apply = Callable[[Sentence, random.Random], "Sentence | None"]


@dataclass(frozen=True)
class Perturbation:
    """``text``/``tokens``: whether it applies to raw-text tasks / token-level (NER) tasks."""

    name: str
    description: str
    apply: Apply
    text: bool = True
    tokens: bool = True


def perturb(perturbation: Perturbation, example: Example, seed: int) -> Example | None:
    """The example with each text field perturbed (a pair: both), or None where it applies to none of them."""
    rng = random.Random(f"{seed}:{perturbation.name}:{example.row}")
    fields = [perturbation.apply(sentence, rng) for sentence in example.fields]
    if all(field is None for field in fields):
        return None
    return example.with_fields([new or old for new, old in zip(fields, example.fields)])


def match_case(word: str, like: str) -> str:
    """``word`` cased as ``like`` is (UPPER, Title or lower)."""
    if like.isupper() and len(like) > 1:
        return word.upper()
    return word[:1].upper() + word[1:] if like[:1].isupper() else word


def _eligible(sentence: Sentence, keep: Callable[[str], bool]) -> list[int]:
    return [i for i, word in enumerate(sentence.words) if keep(word)]


def _replace_some(sentence: Sentence, rng: random.Random, candidates: list[int],
                  new: Callable[[str, random.Random], str]) -> Sentence | None:
    """About one word in ten of ``candidates`` (at least one) replaced by ``new(word)``."""
    if not candidates:
        return None
    count = min(len(candidates), max(1, round(len(sentence.words) / 10)))
    chosen = sorted(rng.sample(candidates, count))
    for index in chosen:
        sentence = sentence.splice(index, [new(sentence.words[index], rng)])
    return sentence


def keyboard_typo(word: str, rng: random.Random) -> str:
    """One letter replaced by a neighbour on the keyboard (its case kept)."""
    places = [i for i, c in enumerate(word) if c.lower() in lexicon.KEYBOARD]
    if not places:
        return word
    at = rng.choice(places)
    near = rng.choice(sorted(lexicon.KEYBOARD[word[at].lower()]))
    return word[:at] + (near.upper() if word[at].isupper() else near) + word[at + 1:]


def _typos(sentence: Sentence, rng: random.Random) -> Sentence | None:
    return _replace_some(sentence, rng, _eligible(sentence, lambda w: w.isalpha() and len(w) > 2), keyboard_typo)


def _misspellings(sentence: Sentence, rng: random.Random) -> Sentence | None:
    table = lexicon.misspellings()
    return _replace_some(sentence, rng, _eligible(sentence, lambda w: w.lower() in table),
                         lambda w, r: match_case(r.choice(table[w.lower()]), w))


def _cased(change: Callable[[str], str]) -> Apply:
    def apply(sentence: Sentence, rng: random.Random) -> Sentence | None:
        words = tuple(change(word) for word in sentence.words)
        return None if words == sentence.words else Sentence(words, sentence.spaces, sentence.lead, sentence.tags,
                                                             sentence.origin)
    return apply


def _punctuation(sentence: Sentence, rng: random.Random) -> Sentence | None:
    """The final mark removed, or a full stop added where there is none."""
    if not sentence.words:
        return None
    if sentence.words[-1] in {".", "!", "?"}:
        return sentence.splice(len(sentence.words) - 1, []) if len(sentence.words) > 1 else None
    return sentence.splice(len(sentence.words), ["."], drop=0)


_EXPANSIONS = {short: long for long, short in lexicon.CONTRACTIONS.items() if long != "cannot"}


def _contractions(sentence: Sentence, rng: random.Random) -> Sentence | None:
    """The first 'do not' contracted to "don't", or the first "don't" expanded: the meaning stays."""
    lower = [w.lower() for w in sentence.words]
    for i, word in enumerate(lower):
        pair = f"{word} {lower[i + 1]}" if i + 1 < len(lower) else None
        if pair in lexicon.CONTRACTIONS and sentence.spaces[i] == " ":
            return sentence.splice(i, [match_case(lexicon.CONTRACTIONS[pair], sentence.words[i])], drop=2)
        if word.replace("’", "'") in _EXPANSIONS:
            expanded = _EXPANSIONS[word.replace("’", "'")].split()
            return sentence.splice(i, [match_case(expanded[0], sentence.words[i]), *expanded[1:]])
    return None


def _token(rng: random.Random, size: int) -> str:
    return "".join(rng.choice(string.ascii_letters + string.digits) for _ in range(size))


def _add_url(sentence: Sentence, rng: random.Random) -> Sentence:
    return sentence.splice(len(sentence.words), [f"https://t.co/{_token(rng, 10)}"], drop=0)


def _add_handle(sentence: Sentence, rng: random.Random) -> Sentence:
    return sentence.splice(0, [f"@{rng.choice(lexicon.FIRST_NAMES).lower()}{rng.randint(1, 999)}"], drop=0)


def _add_emoji(sentence: Sentence, rng: random.Random) -> Sentence:
    return sentence.splice(len(sentence.words), [rng.choice(lexicon.EMOJI)], drop=0)


def _swap_from(names: Sequence[str]) -> Apply:
    """Each word that is one of ``names`` replaced by another of them."""
    known = set(names)

    def apply(sentence: Sentence, rng: random.Random) -> Sentence | None:
        found = _eligible(sentence, lambda w: w in known)
        for index in found:
            sentence = sentence.splice(index, [rng.choice([n for n in names if n != sentence.words[index]])])
        return sentence if found else None
    return apply


_SINGLE_PLACES = tuple(place for place in lexicon.PLACES if " " not in place)
_PERSON = {"PER", "PERSON", "person", "per"}
_PLACE = {"LOC", "GPE", "LOCATION", "location", "loc", "geo-loc"}


def _entity_runs(tags: Sequence[str]) -> list[tuple[str, int, int]]:
    """(type, start, end) of each run of one entity type, a new run at each B/S prefix."""
    runs: list[tuple[str, int, int]] = []
    for index, tag in enumerate(tags):
        prefix, kind = split_tag(tag)
        if kind is None:
            continue
        if runs and runs[-1][0] == kind and runs[-1][2] == index and prefix not in ("B", "S", "U"):
            runs[-1] = (kind, runs[-1][1], index + 1)
        else:
            runs.append((kind, index, index + 1))
    return runs


def _same_length_name(kind: str, length: int, rng: random.Random) -> list[str] | None:
    if kind in _PERSON:
        if length == 1:
            return [rng.choice(lexicon.FIRST_NAMES + lexicon.LAST_NAMES)]
        return [rng.choice(lexicon.FIRST_NAMES)] + [rng.choice(lexicon.LAST_NAMES) for _ in range(length - 1)]
    if kind in _PLACE:
        fits = [place.split() for place in lexicon.PLACES if len(place.split()) == length]
        return rng.choice(fits) if fits else None
    return None


def _entity_swap(sentence: Sentence, rng: random.Random) -> Sentence | None:
    """Each person and place entity replaced by another name of its length; its tags stay as they were."""
    if sentence.tags is None:
        return None
    swapped = False
    for kind, start, end in _entity_runs(sentence.tags):
        name = _same_length_name(kind, end - start, rng)
        if name is not None:
            for offset, word in enumerate(name):
                sentence = sentence.splice(start + offset, [word])
            swapped = True
    return sentence if swapped else None


_ALL = (
    Perturbation("typos", "one letter in ten words replaced by a keyboard neighbour", _typos),
    Perturbation("misspellings", "words replaced by real misspellings (codespell's list)", _misspellings),
    Perturbation("lowercase", "every word lowercased", _cased(str.lower)),
    Perturbation("uppercase", "every word uppercased", _cased(str.upper)),
    Perturbation("punctuation", "the final mark removed, or a full stop added", _punctuation),
    Perturbation("contractions", "'do not' <-> \"don't\"", _contractions),
    Perturbation("add-url", "a link added at the end", _add_url),
    Perturbation("add-handle", "an @handle added at the start", _add_handle),
    Perturbation("add-emoji", "an emoji added at the end", _add_emoji),
    Perturbation("swap-person", "person names replaced by others", _swap_from(lexicon.FIRST_NAMES + lexicon.LAST_NAMES),
                 tokens=False),
    Perturbation("swap-place", "place names replaced by others", _swap_from(_SINGLE_PLACES), tokens=False),
    Perturbation("entity-swap", "person and place entities replaced by names of their length, tags kept",
                 _entity_swap, text=False),
)
PERTURBATIONS = Registry[Perturbation]("perturbation")
for _entry in _ALL:
    PERTURBATIONS.register(_entry.name, _entry)
DEFAULT_SUITE = tuple(entry.name for entry in _ALL)  # every invariance test, each where the task can use it
