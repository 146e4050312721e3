"""The spelling task (``task: spelling``, alias ``csc``): a text in; the corrected text and each change out.

Chinese spelling correction is character-level and keeps the length (MacBERT4CSC / Soft-Masked-BERT): the
encoder's masked-LM head proposes a character at every position and a one-unit head scores whether the
written one is wrong; the loss is ``detection_weight`` x detection BCE + the rest x correction cross-entropy.
A proposal is accepted when its probability clears ``threshold`` (None: tuned on validation for precision,
F0.5 over the proposals; 0.5 until a validation split was scored), optionally only within the confusion set.

Data: ``source`` (with errors) and ``target`` (corrected) columns: JSON lines ``{"source", "target"}``, a tsv
with a ``source<TAB>target`` header or none (pairs from the first line), or pycorrector's json with
``data.text=original_text data.label=correct_text``.

``level: word`` is English spelling correction (NeuSpell style, :mod:`.word_level`): each word's first
sub-token is classified as keep or one of the ``vocabulary_size`` most frequent words of the training
targets; everything else (threshold, metrics, edits) works as at the character level, with words as units.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar, Literal

import numpy as np
import torch
import torch.nn.functional as F
from pydantic import Field, model_validator

from finegrain.config import Section
from finegrain.data.inputs import InputFormat
from finegrain.data.labels import LabelMap
from finegrain.data.split import Split
from finegrain.errors import ConfigError
from finegrain.registry import TASKS
from finegrain.tasks.base import Task
from finegrain.tasks.explaining import ExplainView
from finegrain.tasks.modeling import head_module_names, token_cross_entropy
from finegrain.tasks.outputs import ClassScores, Column, ReportSections, ServingPayload, StudyView
from finegrain.tasks.spelling import report, tiny
from finegrain.tasks.spelling.candidates import symspell_candidates
from finegrain.tasks.spelling.checks import check_pairs
from finegrain.tasks.spelling.decoding import (apply_edits, best_threshold, estimated_proposals, proposals,
                                               threshold_within)
from finegrain.tasks.spelling.encoding import IGNORE_INDEX, collate, encode_pairs
from finegrain.tasks.spelling.explaining import character_view
from finegrain.tasks.spelling.inputs import INPUT_FORMATS, prediction_frame
from finegrain.tasks.spelling.metrics import error_analysis, f1_of_counts, sentence_counts, spelling_metrics
from finegrain.tasks.spelling.model import build_spelling_model
from finegrain.tasks.spelling.serving import PAYLOAD
from finegrain.tasks.spelling.word_level import (build_word_model, edit_kind, encode_words, estimated_word_proposals,
                                                 vocabulary, word_proposals)
from finegrain.tasks.spelling.words import words

__all__ = ["SpellingTask", "SpellingParams"]

LOGGER = logging.getLogger("finegrain")
_DEFAULT_THRESHOLD = 0.5  # before validation tunes it: a change the model is more sure of than not


class SpellingParams(Section):
    level: Literal["character", "word"] = "character"  # character: Chinese, same length; word: English (NeuSpell)
    detection_weight: float = Field(0.3, ge=0, le=1)  # MacBERT4CSC's weight of the detection loss
    threshold: float | None = Field(None, ge=0, le=1)  # None: tuned on validation (F-beta of the proposals)
    # the beta of that tuning: 0.5 weighs precision twice as much as recall (a corrector should rarely break text);
    # 1 tunes for the F1 that benchmarks such as sighan15 report
    threshold_beta: float = Field(0.5, gt=0)
    # tune instead for the most corrections whose changes to correct units (words, characters) stay within this
    # share of them on validation: a user's ceiling on over-correction (e.g. 0.01)
    max_over_correction: float | None = Field(None, gt=0, lt=1)
    confusion_only: bool = False  # accept only corrections in pycorrector's confusion set of the character
    vocabulary_size: int = Field(10000, ge=1)  # word level: the output words (the commonest corrected-to first)
    # word level: "model" takes the model's best word; "symspell" its best among symspellpy's words within two
    # edits of the written one (the model reranks symspell's candidates by context)
    candidates: Literal["model", "symspell"] = "model"

    @model_validator(mode="after")
    def _candidates_need_words(self) -> SpellingParams:
        if self.candidates != "model" and self.level != "word":
            raise ValueError("candidates: symspell reranks English words: it needs level: word")
        return self


def _kind(original: str, correction: str) -> str:
    from finegrain.data.confusion_sets import confusion_sets

    return confusion_sets().kind(original, correction)


def _warn_uncased(tokenizer: Any) -> None:
    if tokenizer("A", add_special_tokens=False)["input_ids"] == tokenizer("a", add_special_tokens=False)["input_ids"]:
        LOGGER.warning("finegrain: the model is uncased, so word-level spelling correction cannot fix case: a"
                       " correction keeps the case pattern of the word as written.")


@TASKS.register("spelling", aliases=("csc",))
class SpellingTask(Task):
    """Spelling correction: Chinese character for character, or English word for word (``level: word``).

    Example:
        >>> SpellingTask().columns({"text": "text", "label": "label"})
        {'source': 'source', 'target': 'target'}
    """

    name: ClassVar[str] = "spelling"
    Params: ClassVar[type[SpellingParams]] = SpellingParams
    pipeline_tag: ClassVar[str] = "fill-mask"  # the nearest hub pipeline: a token proposed per position
    label_column: ClassVar[str] = "target"
    stratify: ClassVar[str | None] = None  # no class per example to keep proportions of
    primary_metric: ClassVar[str] = "correction_f1"  # strict SIGHAN sentence-level correction F1
    greater_is_better: ClassVar[bool] = True
    logged_metrics: ClassVar[tuple[str, ...]] = ("false_positive_rate",)
    summary_columns: ClassVar[tuple[Column, ...]] = report.SUMMARY_COLUMNS
    class_scores: ClassVar[ClassScores | None] = None
    report: ClassVar[ReportSections] = report.REPORT
    study: ClassVar[StudyView] = StudyView("sentence correction F1 (strict)", f1_of_counts, lambda metrics: {})
    serving: ClassVar[ServingPayload] = PAYLOAD
    input_formats: ClassVar[tuple[InputFormat, ...]] = INPUT_FORMATS
    tiny_dataset = staticmethod(tiny.tiny_dataset)
    description: ClassVar[str] = "spelling correction"
    single_label: ClassVar[bool] = False

    def __init__(self, params: SpellingParams | None = None):
        self.params = params or SpellingParams()
        self._tokens: list[str] = []  # the vocabulary, id -> token, from the tokenizer encode last saw
        self._unknown_id = -1
        self._labels: list[str] = []  # the word level's output vocabulary, from the label map encode last saw
        self._threshold: float | None = None  # tuned on the last validation split scored

    robustness: ClassVar[None] = None  # see finegrain.tasks.robustness.robust_view

    def restore(self, metrics: Mapping[str, Mapping[str, Any]]) -> None:
        """The threshold tuned on validation when the run finished, so predictions accept what test scored."""
        tuned = (metrics.get("validation") or {}).get("threshold")
        if self.params.threshold is None and isinstance(tuned, (int, float)):
            self._threshold = float(tuned)

    @property
    def explaining(self) -> ExplainView:
        if self._words:
            raise ConfigError("finegrain explain covers character-level spelling correction only, not the word level"
                              " (its output vocabulary is kept to the top candidates at evaluation, so there is no"
                              " class score to attribute).", where="task.level",
                              hint="explain a character-level (Chinese) spelling run, or inspect the word level's"
                                   " edits and their probabilities in finegrain predict's output.")
        return character_view(self.encode)

    def columns(self, chosen: Mapping[str, str]) -> dict[str, str]:
        """``source``/``target`` unless ``data.text``/``data.label`` name other columns."""
        text, label = chosen["text"], chosen["label"]
        return {"source": "source" if text == "text" else text, "target": "target" if label == "label" else label}

    @property
    def _words(self) -> bool:
        return self.params.level == "word"

    def _units(self, text: str) -> Sequence[str]:
        """What is compared and corrected: the characters, or the words at the word level."""
        return words(text) if self._words else text

    def check(self, split: Split) -> Split:
        return check_pairs(split, self.params.level)

    def prediction_split(self, inputs: Sequence[Any]) -> Split:
        return self.check(Split("input", prediction_frame(inputs), "input"))

    def input_fields(self, value: str) -> dict[str, Any]:
        return {"text": value}

    def predict_inputs(self, split: Split) -> list[str]:
        return split.frame["source"].tolist()

    def fit_targets(self, split: Split, labels: LabelMap, features: list[dict[str, Any]] | None) -> np.ndarray:
        """The target texts, in example order (a fitted corrector learns from whole pairs; the word level's label
        vocabulary lacks the rarer target words)."""
        return np.array(split.frame["target"].tolist(), dtype=object)

    def label_map(self, train: Split) -> LabelMap:
        if self._words:  # the output vocabulary
            return LabelMap(tuple(vocabulary(train.frame["target"].tolist(), train.frame["source"].tolist(),
                                             self.params.vocabulary_size)))
        return LabelMap.from_values(["correct", "wrong"])  # the detection head's two outcomes

    def check_labels(self, split: Split, labels: LabelMap) -> None:
        """Any corrected text is a valid target: nothing to refuse."""

    def build_model(self, model_path: str, labels: LabelMap, *, random_init: bool = False) -> torch.nn.Module:
        if self._words:
            return build_word_model(model_path, labels, random_init=random_init)
        return build_spelling_model(model_path, labels, random_init=random_init)

    def head_names(self, model: torch.nn.Module) -> list[str]:
        return head_module_names(model)

    def encode(self, split: Split, tokenizer: Any, labels: LabelMap, max_length: int) -> list[dict[str, Any]]:
        self._tokens = tokenizer.convert_ids_to_tokens(list(range(len(tokenizer))))
        self._labels = list(labels.names)
        self._unknown_id = tokenizer.unk_token_id
        frame = split.frame
        targets = frame["target"].tolist() if "target" in frame else None
        trainable = frame["same_length"].tolist() if "same_length" in frame else None
        if self._words:
            if split.name == "train":
                _warn_uncased(tokenizer)
            return encode_words(tokenizer, frame["source"].tolist(), targets, trainable, labels, max_length)
        return encode_pairs(tokenizer, frame["source"].tolist(), targets, trainable, max_length)

    def collate(self, features: list[dict[str, Any]], pad_id: int) -> dict[str, torch.Tensor]:
        return collate(features, pad_id)

    def loss(self, logits: torch.Tensor, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        """Weighted detection BCE and correction cross-entropy over the labelled characters, in float32."""
        logits = logits.float()
        if self._words:
            return token_cross_entropy(logits, batch["labels"], IGNORE_INDEX)
        detect, vocabulary = logits[..., 0], logits[..., 1:]
        labelled = batch["detect"] != IGNORE_INDEX
        if not labelled.any():
            return logits.sum() * 0.0  # keeps the graph (and accelerate's accumulation) intact
        detection = F.binary_cross_entropy_with_logits(detect[labelled], batch["detect"][labelled].float())
        correction = F.cross_entropy(vocabulary.reshape(-1, vocabulary.shape[-1]), batch["labels"].reshape(-1),
                                     ignore_index=IGNORE_INDEX)
        weight = self.params.detection_weight
        return weight * detection + (1 - weight) * torch.nan_to_num(correction)

    def _all_proposals(self, split: Split, features: list[dict[str, Any]], logits: list[np.ndarray]
                       ) -> list[list[dict[str, Any]]]:
        if self.params.confusion_only:
            from finegrain.data.confusion_sets import confusion_sets

            sets = confusion_sets()
            allowed = lambda written, token: token in sets.candidates(written)  # noqa: E731
        else:
            allowed = lambda written, token: True  # noqa: E731
        sources = split.frame["source"].tolist()
        found: list[list[dict[str, Any]]] = [[] for _ in sources]
        if self._words:
            candidates = symspell_candidates if self.params.candidates == "symspell" else None
            for feature, values in zip(features, logits):
                index = feature["example"]
                found[index] = (word_proposals(sources[index], feature, values, self._labels, candidates)
                                if "first" in feature else estimated_word_proposals(sources[index], values))
            return found
        for feature, values in zip(features, logits):
            index = feature["example"]
            found[index] = (proposals(sources[index], feature, values, self._tokens, self._unknown_id, allowed)
                            if "chars" in feature else estimated_proposals(sources[index], values, allowed))
        return found

    def _corrections(self, split: Split, features: list[dict[str, Any]], logits: list[np.ndarray]
                     ) -> tuple[list[str], list[list[dict[str, Any]]], float]:
        """Corrected texts and accepted edits; on validation (with a free threshold) the threshold is tuned first."""
        found = self._all_proposals(split, features, logits)
        threshold = self.params.threshold
        if threshold is None and split.name == "validation" and "target" in split.frame:
            units = self._units
            scored = [(p["probability"], units(target)[p["index"]] == p["correction"])
                      for props, target, same in zip(found, split.frame["target"], split.frame["same_length"])
                      if same for p in props]
            gold = sum(s != t for source, target, same in zip(split.frame["source"], split.frame["target"],
                                                             split.frame["same_length"])
                       if same for s, t in zip(units(source), units(target)))
            if self.params.max_over_correction is None:
                self._threshold = best_threshold(scored, gold, self.params.threshold_beta) or self._threshold
            else:
                self._threshold = self._threshold_within(split, found) or self._threshold
        if threshold is None:
            threshold = self._threshold if self._threshold is not None else _DEFAULT_THRESHOLD
        accepted = [[p for p in props if p["probability"] >= threshold] for props in found]
        texts = [apply_edits(source, edits) for source, edits in zip(split.frame["source"], accepted)]
        return texts, accepted, threshold

    def _threshold_within(self, split: Split, found: list[list[dict[str, Any]]]) -> float | None:
        """The threshold of ``max_over_correction``: proposals on units the target leaves as written count."""
        units, frame = self._units, split.frame
        scored = [(p["probability"], units(source)[p["index"]] == units(target)[p["index"]])
                  for props, source, target, same in zip(found, frame["source"], frame["target"], frame["same_length"])
                  if same for p in props]
        correct = sum(s == t for source, target, same in zip(frame["source"], frame["target"], frame["same_length"])
                      if same for s, t in zip(units(source), units(target)))
        return threshold_within(scored, correct, self.params.max_over_correction)

    def evaluate(self, split: Split, features: list[dict[str, Any]], logits: list[np.ndarray],
                 labels: LabelMap) -> dict[str, Any]:
        predicted, _, threshold = self._corrections(split, features, logits)
        units = self._units
        sources, targets = [units(t) for t in split.frame["source"]], [units(t) for t in split.frame["target"]]
        predicted = [units(t) for t in predicted]
        metrics = spelling_metrics(sources, targets, predicted, unit="word" if self._words else "char")
        metrics["threshold"] = threshold
        metrics["error_analysis"] = error_analysis(sources, targets, predicted, edit_kind if self._words else _kind)
        return metrics

    def example_counts(self, split: Split, features: list[dict[str, Any]], logits: list[np.ndarray],
                       labels: LabelMap) -> np.ndarray:
        predicted, _, _ = self._corrections(split, features, logits)
        units = self._units
        return sentence_counts([units(t) for t in split.frame["source"]], [units(t) for t in split.frame["target"]],
                               [units(t) for t in predicted])

    def decode(self, split: Split, features: list[dict[str, Any]], logits: list[np.ndarray],
               labels: LabelMap) -> list[dict[str, Any]]:
        predicted, accepted, _ = self._corrections(split, features, logits)
        keys = ("position", "original", "correction", "probability")
        return [{"text": source, "corrected": text, "edits": [{k: edit[k] for k in keys} for edit in edits]}
                for source, text, edits in zip(split.frame["source"], predicted, accepted)]
