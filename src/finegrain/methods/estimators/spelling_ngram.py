"""``char-ngram``: the confusion-set + character n-gram corrector (:mod:`.char_ngram`) as a fitted method of the
spelling task, so studies compare it with the trained models (pycorrector's kenlm corrector stands behind it).

The language model counts the training targets (the corrected texts, which the spelling task hands fitted
methods). Per text it answers, at each character, ``[detection score, proposed code point or -1,
probability]`` (padded to the longest text): the spelling task reads that as the model's proposals, its
probability ``sigmoid(gain - margin)`` for a change the language model gains ``gain`` nats on.

Example:
    >>> CharNgramCorrector().tasks
    ('spelling',)
"""

from __future__ import annotations

import json
import logging
import math
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar, Literal

import numpy as np
from pydantic import Field, field_validator

from finegrain.config import Section
from finegrain.errors import ConfigError
from finegrain.data.confusion_sets import confusion_sets, sound_alike_sets
from finegrain.methods.base import EncoderSource, FittedMethod, MethodBasics
from finegrain.methods.estimators.base import EstimatorContext, FitStats
from finegrain.methods.estimators.char_ngram import CharNgram
from finegrain.registry import METHODS, suggest

if TYPE_CHECKING:
    from finegrain.tasks.base import Task

__all__ = ["CharNgramCorrector", "CharNgramParams", "NgramCorpora", "CandidateParams", "UNCHANGED", "unchanged_answers",
           "count_ngrams", "check_character_level", "candidate_table"]

LOGGER = logging.getLogger("finegrain")
UNCHANGED = -30.0  # the detection score of a character left alone: sigmoid of it is ~0


def unchanged_answers(texts: list[str]) -> np.ndarray:
    """``[UNCHANGED, -1, 0]`` at every character (padded to the longest text): nothing proposed anywhere."""
    return np.full((len(texts), max([len(t) for t in texts] + [1]), 3), (UNCHANGED, -1.0, 0.0))


class NgramCorpora(Section):
    # unlabeled text counted beside the training targets (built-in corpus names, as `finegrain pretrain` reads
    # them, or .txt/.jsonl files); a sentence that repeats the run's validation or test text is not counted
    # (zh-spelling-synth's come from peoples-daily-1998, msra-ner's news overlaps it), nor one that repeats a
    # training target (counted once already)
    corpora: list[str] = []

    @field_validator("corpora")
    @classmethod
    def _known(cls, sources: list[str]) -> list[str]:
        from finegrain.pretraining.corpora import CORPORA

        for source in sources:
            if source not in CORPORA and not Path(source).expanduser().is_file():
                raise ValueError(f"'{source}' is neither a file nor a built-in corpus"
                                 f"{suggest(source, CORPORA.names())} (built-in: {', '.join(CORPORA.names())})")
        return sources


class CandidateParams(NgramCorpora):
    # beside pycorrector's sets, the common characters pypinyin reads alike (first reading): "same" syllable, tones
    # aside (sighan15's corrections among the candidates: 73% -> 78%; 他 -> 她 is not in pycorrector's), or "near"
    # (also zh/z, ch/c, sh/s, l/n, -ng/-n: 84%, ~21 candidates a character instead of ~15), or "none"
    sound_alike: Literal["none", "same", "near"] = "none"


def candidate_table(texts: list[str], sound_alike: str = "none") -> dict[str, str]:
    """Per character of ``texts``, the characters proposed in its place (pronunciation first, then shape, then
    those pypinyin reads alike: ``sound_alike`` as :class:`CandidateParams` says)."""
    sets = confusion_sets()
    sounds = {} if sound_alike == "none" else sound_alike_sets(near=sound_alike == "near")
    return {char: "".join(dict.fromkeys(sets.candidates(char) + sounds.get(char, "")))
            for char in set("".join(texts))}


class CharNgramParams(CandidateParams):
    margin: float = Field(6.0, ge=0)  # nats a candidate must gain: 6 had the best strict F1 of 2, 4, 6, 8 on sighan15


def check_character_level(method: str, task: Task) -> None:
    if getattr(task.params, "level", "character") != "character":
        raise ConfigError(f"{method} corrects Chinese characters; it cannot correct English words"
                          " (task.level: word).", where="method.name",
                          hint="for the word level use method.name=symspell, pyspellchecker or a trained model.")


def count_ngrams(targets: np.ndarray, corpora: list[str], held_out: tuple[str, ...] = ()) -> CharNgram:
    """The trigram model of the training targets and the deduplicated ``corpora``, less the corpus sentences that
    repeat ``held_out`` text (validation, test) or a training target."""
    texts = [str(target) for target in targets]
    extra: list[str] = []
    if corpora:
        from finegrain.pretraining.corpus import deduplicate, drop_repeats, read_sources

        extra, leaked = drop_repeats(deduplicate(read_sources(corpora, "text")), held_out)
        extra, repeated = drop_repeats(extra, texts)
        LOGGER.info("finegrain: the character n-gram model counts %d training targets and %d corpus documents"
                    " (%d characters) of %s; %d corpus sentences repeated a training target (counted once)",
                    len(texts), len(extra), sum(map(len, extra)), ", ".join(corpora), repeated)
        if leaked:
            LOGGER.warning("finegrain: %d sentence(s) of the corpora (%s) repeat the run's validation or test text:"
                           " they are not counted, so the scores stay unseen-data scores", leaked, ", ".join(corpora))
    return CharNgram().fit(texts + extra)


@METHODS.register("char-ngram", aliases=("ngram-corrector",))
class CharNgramCorrector(FittedMethod):
    """Confusion-set candidates scored by a character trigram language model (spelling correction)."""

    name: ClassVar[str] = "char-ngram"
    Params: ClassVar[type[CharNgramParams]] = CharNgramParams
    tasks: ClassVar[tuple[str, ...]] = ("spelling",)
    encoder: ClassVar[EncoderSource] = "none"  # counts only

    def __init__(self, params: CharNgramParams | None = None):
        self.params = params or CharNgramParams()
        self.model = CharNgram()

    def check_task(self, task: Task) -> None:
        MethodBasics.check_task(self, task)
        check_character_level(self.name, task)

    def fit(self, texts: list[str], targets: np.ndarray, context: EstimatorContext) -> FitStats:
        self.model = count_ngrams(targets, self.params.corpora, context.held_out)
        counted = sum(len(counter) for counter in self.model.counts)  # each n-gram count is a fitted number
        return FitStats(counted, counted)

    def log_probs(self, texts: list[str], context: EstimatorContext) -> np.ndarray:
        candidates = candidate_table(texts, self.params.sound_alike)
        answers = unchanged_answers(texts)
        for row, text in enumerate(texts):
            for position, _, correction, gain in self.model.correct(text, candidates, self.params.margin)[1]:
                score = gain - self.params.margin
                answers[row, position] = (score, ord(correction), 1.0 / (1.0 + math.exp(-score)))
        return answers

    def save(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        (directory / "ngrams.json").write_text(json.dumps(self.model.state(), ensure_ascii=False), encoding="utf-8")

    def load(self, directory: Path, context: EstimatorContext) -> CharNgramCorrector:
        self.model = CharNgram.from_state(json.loads((directory / "ngrams.json").read_text(encoding="utf-8")))
        return self
