"""The NER (token classification) task: word lists and tags in, entities with offsets out.

Tags are read in the data's scheme (declared, or detected per split), repaired, and converted to
IOB2 for training: each word is labelled on its first sub-token, long sentences are cut into
overlapping windows (``stride``) so that every word gets a prediction. Metrics are entity-level
(seqeval, strict in the data's scheme, with the conlleval-like default mode beside), plus an
error analysis. Tags of evaluation data that training never saw are counted (``unseen_tags``)
and scored as missed entities instead of stopping the run.

Example:
    >>> task = NerTask(NerParams())
    >>> task.columns({"text": "text", "label": "label"})
    {'tokens': 'tokens', 'tags': 'tags'}
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

import numpy as np
import torch
from pydantic import Field, field_validator

from finegrain.config import Section
from finegrain.data.inputs import InputFormat
from finegrain.data.labels import LabelMap
from finegrain.data.split import Split
from finegrain.errors import ConfigError, DataError, FinegrainError
from finegrain.registry import TASKS
from finegrain.tasks.base import Task
from finegrain.tasks.modeling import build_pretrained, head_module_names, quiet_transformers, token_cross_entropy
from finegrain.tasks.ner import checks, outputs, tiny
from finegrain.tasks.ner.alignment import IGNORE_INDEX, Window, encode_words
from finegrain.tasks.ner.errors_analysis import analyse_errors
from finegrain.tasks.ner.explaining import ner_view
from finegrain.tasks.ner.inputs import INPUT_FORMATS, prediction_split
from finegrain.tasks.ner.metrics import entity_metrics, sentence_entity_counts
from finegrain.tasks.ner.predictions import all_sentence_tags
from finegrain.tasks.ner.schemes import convert, normalize_scheme, split_tag, to_spans
from finegrain.tasks.ner.serving import PAYLOAD
from finegrain.tasks.ner.spans import spans_from_tags
from finegrain.tasks.explaining import ExplainView
from finegrain.tasks.ner.robustness import ner_robust_view
from finegrain.tasks.robustness import RobustView
from finegrain.tasks.outputs import ClassScores, Column, ReportSections, ServingPayload, StudyView

__all__ = ["NerTask", "NerParams"]


class NerParams(Section):
    scheme: str = "auto"  # the data's tagging scheme; auto: detected from each split's own tags
    stride: int | None = Field(None, ge=0)  # sub-tokens shared by windows of a long sentence; None: max_length/4, <= 32
    language: str = "auto"  # raw-text words: zh/ja = one per character; auto = CJK characters alone, others by spaces

    @field_validator("scheme")
    @classmethod
    def _known_scheme(cls, value: str) -> str:
        if value != "auto":
            try:
                return normalize_scheme(value)
            except FinegrainError:
                raise ValueError(f"unknown tagging scheme '{value}'; choose one of {checks.scheme_choices()}"
                                 " (BIO means IOB2, BILOU means BIOES)") from None
        return value


@TASKS.register("ner", aliases=("token-classification",))
class NerTask(Task):
    """Named-entity recognition over words (CoNLL, token jsonl/csv) or raw text (prediction)."""

    name: ClassVar[str] = "ner"
    Params: ClassVar[type[NerParams]] = NerParams
    pipeline_tag: ClassVar[str] = "token-classification"
    label_column: ClassVar[str] = "tags"
    stratify: ClassVar[str | None] = None  # a sentence holds several entity types: no one class to keep
    primary_metric: ClassVar[str] = "entity_f1"  # strict micro F1 over entities, the CoNLL headline
    greater_is_better: ClassVar[bool] = True
    summary_columns: ClassVar[tuple[Column, ...]] = outputs.SUMMARY_COLUMNS
    class_scores: ClassVar[ClassScores | None] = None  # per-type scores are in the report
    report: ClassVar[ReportSections] = outputs.REPORT
    study: ClassVar[StudyView] = outputs.STUDY
    serving: ClassVar[ServingPayload] = PAYLOAD
    input_formats: ClassVar[tuple[InputFormat, ...]] = INPUT_FORMATS
    tiny_dataset = staticmethod(tiny.tiny_dataset)
    description: ClassVar[str] = "named-entity recognition"
    single_label: ClassVar[bool] = False  # a tag per word, not a class per text

    def __init__(self, params: NerParams | None = None):
        self.params = params or NerParams()

    @property
    def explaining(self) -> ExplainView:
        """Each predicted entity, from the sentence's words (replaced, never deleted: entities keep their place)."""
        return ner_view("IOB2" if self.params.scheme == "auto" else self.params.scheme, self.encode)

    @property
    def robustness(self) -> RobustView:
        """Token lists with their gold tags: perturbations keep one tag per word."""
        return ner_robust_view()

    def prediction_split(self, inputs: Sequence[Any]) -> Split:
        """Raw texts split into words (with offsets) and token lists as they are; anything else refused."""
        return prediction_split(inputs, self.params.language)

    def input_fields(self, value: str | list[str]) -> dict[str, Any]:
        return {"text": value} if isinstance(value, str) else {"tokens": value}

    def predict_inputs(self, split: Split) -> list[list[str]]:
        return [list(tokens) for tokens in split.frame["tokens"]]

    def columns(self, chosen: Mapping[str, str]) -> dict[str, str]:
        """``tokens``/``tags`` unless ``data.text``/``data.label`` name other columns."""
        text, label = chosen["text"], chosen["label"]
        return {"tokens": "tokens" if text == "text" else text, "tags": "tags" if label == "label" else label}

    def check(self, split: Split) -> Split:
        if "tokens" not in split.frame:
            found = ", ".join(str(c) for c in split.frame.columns if c != "row")
            raise DataError(f"NER data needs a 'tokens' column of words; found columns: {found or 'none'}.",
                            where=split.source, hint="set data.text to the column of word lists.")
        if "tags" not in split.frame:
            words = [checks.as_words(v, "tokens", split.where(i)) for i, v in enumerate(split.frame["tokens"])]
            return Split(split.name, split.frame.assign(tokens=words), split.source)
        return checks.check_tags(checks.check_sentences(split), self.params.scheme)

    def label_map(self, train: Split) -> LabelMap:
        """``O`` plus ``B-``/``I-`` of every entity type in the training data."""
        types = {split_tag(tag)[1] for tags in train.frame["tags"] for tag in tags} - {None}
        if not types:
            raise DataError("the training data has no entities: every tag is 'O', so there is nothing to learn.",
                            where=train.source,
                            hint="check that data.label names the tag column and that entities are tagged.")
        checks.warn_type_spellings(train)
        return LabelMap.from_values(["O"] + [f"{prefix}-{t}" for t in types for prefix in ("B", "I")])

    def check_labels(self, split: Split, labels: LabelMap) -> None:
        """Report (do not refuse) entity types training never saw: they count as missed entities."""
        unseen = checks.unseen_tags(split.frame["tags"], labels.names)
        if unseen:
            listed = ", ".join(f"{tag}: {count}" for tag, count in unseen.items())
            checks.LOGGER.warning("finegrain: the %s data has %d tag(s) that training never saw (%s); the model "
                                  "cannot predict them, so they count as missed entities.", split.name,
                                  sum(unseen.values()), listed)

    def build_model(self, model_path: str, labels: LabelMap, *, random_init: bool = False) -> torch.nn.Module:
        return build_pretrained("token", model_path, labels, random_init=random_init)

    def head_names(self, model: torch.nn.Module) -> list[str]:
        return head_module_names(model)

    def encode(self, split: Split, tokenizer: Any, labels: LabelMap, max_length: int) -> list[dict[str, Any]]:
        """One feature per window: ``example`` is the sentence index, ``labels`` -100 off first
        sub-tokens (when the split has tags), ``word_ids``/``owned`` the alignment that evaluate and
        decode merge the windows back to words with."""
        windows = self._encode_windows(split, labels, tokenizer, max_length)
        if "tags" not in split.frame:
            for window in windows:
                window.pop("labels", None)
        return windows

    def collate(self, features: list[dict[str, Any]], pad_id: int) -> dict[str, torch.Tensor]:
        width = max(len(f["input_ids"]) for f in features)
        input_ids = torch.full((len(features), width), pad_id, dtype=torch.long)
        attention_mask = torch.zeros((len(features), width), dtype=torch.long)
        labels = torch.full((len(features), width), IGNORE_INDEX, dtype=torch.long)
        for row, feature in enumerate(features):
            n = len(feature["input_ids"])
            input_ids[row, :n] = torch.tensor(feature["input_ids"], dtype=torch.long)
            attention_mask[row, :n] = 1
            if "labels" in feature:
                labels[row, :n] = torch.tensor(feature["labels"], dtype=torch.long)
        batch = {"input_ids": input_ids, "attention_mask": attention_mask}
        if "labels" in features[0]:
            batch["labels"] = labels
        return batch

    def loss(self, logits: torch.Tensor, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        """Cross-entropy over labelled first sub-tokens, in float32; 0 for a batch without any."""
        return token_cross_entropy(logits, batch["labels"], IGNORE_INDEX)

    def evaluate(self, split: Split, features: list[Window], logits: list[np.ndarray],
                 labels: LabelMap) -> dict[str, Any]:
        """Entity metrics in the data's scheme, error analysis, token accuracy and unseen tags."""
        predicted, _ = self._predict_tags(split, features, logits, labels)
        schemes = split.frame["scheme"].tolist()
        scheme = schemes[0] if schemes else "IOB2"
        gold = split.frame["gold"].tolist()
        pred = [convert(tags, "IOB2", scheme) for tags in predicted]
        tokens = split.frame["tokens"].tolist()
        metrics = entity_metrics(gold, pred, scheme)
        metrics["scheme"] = scheme
        metrics["unseen_tags"] = checks.unseen_tags(split.frame["tags"], labels.names)
        metrics["error_analysis"] = analyse_errors(gold, pred, scheme, tokens=tokens)
        return metrics

    def example_counts(self, split: Split, features: list[Window], logits: list[np.ndarray],
                       labels: LabelMap) -> np.ndarray:
        """Per sentence strict entity (tp, fp, fn), summing to the headline ``entity_f1`` (``study.score_counts``)."""
        predicted, _ = self._predict_tags(split, features, logits, labels)
        schemes = split.frame["scheme"].tolist()
        scheme = schemes[0] if schemes else "IOB2"
        pred = [convert(tags, "IOB2", scheme) for tags in predicted]
        return sentence_entity_counts(split.frame["gold"].tolist(), pred, scheme)

    def decode(self, split: Split, features: list[Window], logits: list[np.ndarray],
               labels: LabelMap) -> list[dict[str, Any]]:
        """Raw text: entities with character offsets; word lists: entities with word indices."""
        predicted, scores = self._predict_tags(split, features, logits, labels)
        frame = split.frame
        out_scheme = "IOB2" if self.params.scheme == "auto" else self.params.scheme
        results = []
        for index, (tags, confidence) in enumerate(zip(predicted, scores)):
            tokens = frame["tokens"].iloc[index]
            offsets = frame["offsets"].iloc[index] if "offsets" in frame else None
            if offsets is not None:  # a raw text: its words have character offsets
                text = frame["text"].iloc[index]
                words = [(w, s, e) for w, (s, e) in zip(tokens, offsets)]
                entities = spans_from_tags(words, tags, confidence, "IOB2", text=text)
                results.append({"text": text, "tokens": list(tokens), "tags": tags, "entities": entities})
            else:
                results.append({"tokens": list(tokens), "tags": convert(tags, "IOB2", out_scheme),
                                "entities": _word_entities(tokens, tags, confidence)})
        return results

    def _encode_windows(self, split: Split, labels: LabelMap, tokenizer: Any, max_length: int) -> list[Window]:
        stride = self._stride(tokenizer, max_length)
        label_ids = labels.label2id
        windows: list[Window] = []
        tag_lists = split.frame["tags"] if "tags" in split.frame else [None] * len(split)
        with quiet_transformers():  # a long sentence is tokenized whole before windowing: no length warning
            for index, (tokens, tags) in enumerate(zip(split.frame["tokens"], tag_lists)):
                ids = None if tags is None else [label_ids.get(tag, IGNORE_INDEX) for tag in tags]
                for window in encode_words(tokenizer, tokens, ids, max_length, stride):
                    window["example"] = index
                    windows.append(window)
        return windows

    def _stride(self, tokenizer: Any, max_length: int) -> int:
        special = tokenizer.num_special_tokens_to_add(pair=False)
        capacity = max_length - special
        stride = self.params.stride if self.params.stride is not None else max(0, min(32, capacity // 4))
        if stride >= capacity:
            raise ConfigError(f"task.stride={stride} must be smaller than model.max_length={max_length} minus"
                              f" the {special} special tokens ({capacity}).", where="task.stride",
                              hint=f"use about a quarter of model.max_length, e.g. task.stride={capacity // 4}.")
        return stride

    def _predict_tags(self, split: Split, windows: list[Window], logits: list[np.ndarray],
                      labels: LabelMap) -> tuple[list[list[str]], list[list[float]]]:
        lengths = [len(tokens) for tokens in split.frame["tokens"]]
        return all_sentence_tags(windows, [w["example"] for w in windows], logits, lengths, labels.names)


def _word_entities(tokens: list[str], tags: list[str], scores: list[float]) -> list[dict[str, Any]]:
    """Entities over a word list: word indices (end exclusive), words joined by spaces, mean score."""
    return [{"type": entity_type, "start": start, "end": end, "text": " ".join(tokens[start:end]),
             "score": float(sum(scores[start:end]) / (end - start))}
            for entity_type, start, end in to_spans(tags, "IOB2")]
