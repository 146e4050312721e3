"""GECToR's g-transformations: a replacement that is only a change of case, of noun number or of verb form gets
one tag whatever the word, so the tag vocabulary stays small and a form the training data never showed is
still reachable ("walked" -> "walks" and "sang" -> "sings" are both ``$TRANSFORM_VERB_VBD_VBZ``).

Forms come from lemminflect (MIT, in the ``spelling`` extra): ``getLemma`` then ``getInflection``. A transform
is derived only when applying it gives the target word back exactly, so derived tags always round-trip.

Example:
    >>> transform_tag("walks", "walked"), apply_transform("$TRANSFORM_VERB_VBZ_VBD", "walks")
    ('$TRANSFORM_VERB_VBZ_VBD', 'walked')
    >>> transform_tag("child", "children"), transform_tag("the", "The")
    ('$TRANSFORM_AGREEMENT_PLURAL', '$TRANSFORM_CASE_CAPITAL')
"""

from __future__ import annotations

from functools import lru_cache

from finegrain.tasks.spelling.words import with_case

__all__ = ["transform_tag", "apply_transform", "CASE_TAGS", "VERB_FORMS"]

CASE_TAGS = {"$TRANSFORM_CASE_CAPITAL": lambda w: w[:1].upper() + w[1:],
             "$TRANSFORM_CASE_LOWER": str.lower,
             "$TRANSFORM_CASE_UPPER": str.upper}
VERB_FORMS = ("VB", "VBZ", "VBD", "VBN", "VBG", "VBP")  # Penn tags lemminflect inflects to; VBP after VB: same form
_PREFIX_VERB, _PREFIX_AGREEMENT = "$TRANSFORM_VERB_", "$TRANSFORM_AGREEMENT_"


@lru_cache(maxsize=65536)
def _lemma(word: str, pos: str) -> str | None:
    from lemminflect import getLemma

    lemmas = getLemma(word.lower(), upos=pos)
    return lemmas[0] if lemmas else None


@lru_cache(maxsize=65536)
def _inflect(lemma: str, tag: str) -> str | None:
    from lemminflect import getInflection

    forms = getInflection(lemma, tag=tag)
    return forms[0] if forms else None


def _verb_form(word: str, lemma: str) -> str | None:
    return next((tag for tag in VERB_FORMS if _inflect(lemma, tag) == word.lower()), None)


def apply_transform(tag: str, word: str) -> str | None:
    """``word`` transformed by ``tag`` (the case of ``word`` kept for form changes); None when it does not apply."""
    if tag in CASE_TAGS:
        return CASE_TAGS[tag](word)
    if not word.isalpha():  # numbers and punctuation have no forms (lemminflect would still add an -s)
        return None
    if tag.startswith(_PREFIX_AGREEMENT):
        lemma = _lemma(word, "NOUN")
        form = _inflect(lemma, "NNS" if tag.endswith("PLURAL") else "NN") if lemma else None
        return with_case(word, form) if form else None
    if tag.startswith(_PREFIX_VERB):
        lemma = _lemma(word, "VERB")
        form = _inflect(lemma, tag.rsplit("_", 1)[1]) if lemma else None
        return with_case(word, form) if form else None
    return None


def _candidates(source: str, target: str) -> list[str]:
    tags = [tag for tag, change in CASE_TAGS.items() if change(source) == target]
    if source.lower() == target.lower():
        return tags
    lemma = _lemma(source, "VERB")  # a verb form first ("go" -> "goes"), as GECToR checks verbs before number
    if lemma:
        written = _verb_form(source, lemma)
        wanted = _verb_form(target, lemma)
        if written and wanted and written != wanted:
            tags.append(f"{_PREFIX_VERB}{written}_{wanted}")
    return tags + [_PREFIX_AGREEMENT + "PLURAL", _PREFIX_AGREEMENT + "SINGULAR"]


def transform_tag(source: str, target: str) -> str | None:
    """The transform tag that turns ``source`` into exactly ``target``, or None (then it is a ``$REPLACE_``)."""
    if source == target or not source[:1].isalpha() or not target[:1].isalpha():
        return None
    return next((tag for tag in _candidates(source, target) if apply_transform(tag, source) == target), None)
