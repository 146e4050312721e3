"""The pair-classification task: two texts and a label (question matching, paraphrase, NLI).

Both texts go through the model's tokenizer as one sequence pair (``[CLS] a [SEP] b [SEP]``, with the
segment ids a BERT-style model was pretrained with), truncated longest-first so that a long first text
never pushes the second out. The head, loss, label checks and decoding are the single-label
classification task's, by composition; the metrics add ROC-AUC and, for two classes, the F1 at the
threshold chosen on validation (:mod:`finegrain.tasks.pair.metrics`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, ClassVar, Literal

import numpy as np
import torch
from pydantic import Field
from scipy.special import softmax

from finegrain.config import DataColumn, Section
from finegrain.data.inputs import InputFormat
from finegrain.data.labels import LabelMap
from finegrain.data.split import Split
from finegrain.errors import ConfigError
from finegrain.registry import TASKS
from finegrain.searchable import searchable
from finegrain.tasks.base import Task
from finegrain.tasks.classification import checks
from finegrain.tasks.classification import outputs as classification_outputs
from finegrain.tasks.classification.explaining import class_view
from finegrain.tasks.classification.metrics import classification_metrics, error_examples
from finegrain.tasks.classification.task import ClassificationParams, ClassificationTask
from finegrain.tasks.classification.robustness import class_robust_view
from finegrain.tasks.explaining import ExplainView
from finegrain.tasks.robustness import RobustView
from finegrain.tasks.outputs import ClassScores, Column, ReportSections, ServingPayload, StudyView
from finegrain.tasks.pair import report, tiny
from finegrain.tasks.pair.inputs import INPUT_FORMATS, prediction_frame
from finegrain.tasks.pair.metrics import best_threshold, f1_at, macro_roc_auc
from finegrain.tasks.pair.serving import PAYLOAD

__all__ = ["PairClassificationTask", "PairParams", "POSITIVE_NAMES"]

# Label names that mean "the texts match" in published pair data (LCQMC/BQ/QQP: 1, MRPC: equivalent, NLI:
# entailment); with two classes, the positive one is the label the threshold F1 scores.
POSITIVE_NAMES = ("1", "true", "yes", "same", "similar", "match", "matched", "duplicate", "paraphrase",
                  "equivalent", "entailment", "positive", "pos")
SECOND_TEXT = DataColumn("text_pair", "text_pair", "the second text of each pair",
                         aliases=("sentence2", "question2", "text_b", "text2", "hypothesis"))


class PairParams(Section):
    # balanced: loss weights ~ 1/frequency; finegrain tune tries both
    class_weights: Literal["none", "balanced"] = Field("none", json_schema_extra=searchable(every_choice=True))
    # Two classes: the label the threshold F1 scores; None: a label named like a match (1, same, duplicate,
    # entailment ...), else the second in sorted order.
    positive_label: str | None = None
    # The last encoder layer computes only the first token, the one the head reads (as for classification).
    first_token_last_layer: bool = True


@TASKS.register("pair-classification", aliases=("matching", "nli", "sentence-pair-classification"))
class PairClassificationTask(Task):
    """Sentence-pair classification: matching, paraphrase, natural-language inference.

    Example:
        >>> task = PairClassificationTask(PairParams())
        >>> task.columns({"text": "q1", "text_pair": "q2", "label": "label"})
        {'text': 'q1', 'text_pair': 'q2', 'label': 'label'}
    """

    name: ClassVar[str] = "pair-classification"
    Params: ClassVar[type[PairParams]] = PairParams
    pipeline_tag: ClassVar[str] = "text-classification"  # the hub's pipeline takes {"text", "text_pair"}
    label_column: ClassVar[str] = "label"
    data_columns: ClassVar[tuple[DataColumn, ...]] = (SECOND_TEXT,)
    stratify: ClassVar[str | None] = "label"
    primary_metric: ClassVar[str] = "macro_f1"  # as classification: robust to imbalanced match rates
    greater_is_better: ClassVar[bool] = True
    logged_metrics: ClassVar[tuple[str, ...]] = ("accuracy", "roc_auc")  # beside macro-F1 in each evaluation's log
    summary_columns: ClassVar[tuple[Column, ...]] = report.SUMMARY_COLUMNS
    class_scores: ClassVar[ClassScores | None] = classification_outputs.CLASS_SCORES
    report: ClassVar[ReportSections] = report.REPORT
    study: ClassVar[StudyView] = classification_outputs.STUDY  # per-class tp/fp/fn, as example_counts gives
    serving: ClassVar[ServingPayload] = PAYLOAD
    input_formats: ClassVar[tuple[InputFormat, ...]] = INPUT_FORMATS
    tiny_dataset = staticmethod(tiny.tiny_dataset)
    description: ClassVar[str] = "sentence-pair classification"
    single_label: ClassVar[bool] = False  # two texts per example: single-text estimators refuse it

    def __init__(self, params: PairParams | None = None):
        self.params = params or PairParams()
        # the head, loss, label checks, counts and decoding of single-label classification
        self.classification = ClassificationTask(ClassificationParams(
            class_weights=self.params.class_weights, first_token_last_layer=self.params.first_token_last_layer))
        # the best threshold of the last validation split scored: the test split is cut there
        self._threshold: float | None = None

    @property
    def explaining(self) -> ExplainView:
        """The predicted class (or the one asked for), from the words of both texts."""
        return class_view(("text", "text_pair"), multi_label=False)

    @property
    def robustness(self) -> RobustView:
        """Both texts as sentences, perturbed alike; the gold class beside them."""
        return class_robust_view(("text", "text_pair"), multi_label=False)

    def columns(self, chosen: Mapping[str, str]) -> dict[str, str]:
        return {"text": chosen["text"], "text_pair": chosen["text_pair"], "label": chosen["label"]}

    def check(self, split: Split) -> Split:
        frame = split.frame.copy()
        frame["text"] = checks.check_texts(split, "text", "first text")
        frame["text_pair"] = checks.check_texts(split, "text_pair", "second text")
        if "label" in frame:
            frame["label"] = checks.parse_labels(split, multi_label=False, separator="|")
        return Split(split.name, frame, split.source)

    def prediction_split(self, inputs: Sequence[Any]) -> Split:
        return self.check(Split("input", prediction_frame(inputs), "input"))

    def input_fields(self, value: tuple[str, str]) -> dict[str, Any]:
        return {"text": value[0], "text_pair": value[1]}

    def predict_inputs(self, split: Split) -> list[tuple[str, str]]:
        return list(zip(split.frame["text"].tolist(), split.frame["text_pair"].tolist()))

    def label_map(self, train: Split) -> LabelMap:
        labels = self.classification.label_map(train)
        self._positive(labels)  # a positive_label training never has fails here, before training
        return labels

    def check_labels(self, split: Split, labels: LabelMap) -> None:
        self.classification.check_labels(split, labels)

    def build_model(self, model_path: str, labels: LabelMap, *, random_init: bool = False) -> torch.nn.Module:
        return self.classification.build_model(model_path, labels, random_init=random_init)

    def head_names(self, model: torch.nn.Module) -> list[str]:
        return self.classification.head_names(model)

    def encode(self, split: Split, tokenizer: Any, labels: LabelMap, max_length: int) -> list[dict[str, Any]]:
        """One feature per pair; ``token_type_ids`` where the tokenizer makes them (BERT-style segments)."""
        encoded = tokenizer(split.frame["text"].tolist(), split.frame["text_pair"].tolist(),
                            truncation="longest_first", max_length=max_length)
        targets = [labels.id(v) for v in split.frame["label"]] if "label" in split.frame else None
        segments = encoded.get("token_type_ids")
        return [{"input_ids": ids, "example": i, **({"token_type_ids": segments[i]} if segments else {}),
                 **({"labels": targets[i]} if targets is not None else {})}
                for i, ids in enumerate(encoded["input_ids"])]

    def fit_targets(self, split: Split, labels: LabelMap, features: list[dict[str, Any]] | None) -> np.ndarray:
        """Class ids read from the split: no tokenizer needed (tfidf-pair)."""
        return np.array([labels.id(v) for v in split.frame["label"]])

    def collate(self, features: list[dict[str, Any]], pad_id: int) -> dict[str, torch.Tensor]:
        batch = self.classification.collate(features, pad_id)
        if "token_type_ids" in features[0]:
            segments = torch.zeros_like(batch["input_ids"])
            for row, feature in enumerate(features):
                segments[row, : len(feature["token_type_ids"])] = torch.tensor(feature["token_type_ids"])
            batch["token_type_ids"] = segments
        return batch

    def loss(self, logits: torch.Tensor, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        return self.classification.loss(logits, batch)

    def evaluate(self, split: Split, features: list[dict[str, Any]], logits: list[np.ndarray],
                 labels: LabelMap) -> dict[str, Any]:
        """Classification metrics, ``roc_auc`` and (two classes) ``threshold_f1``; ``errors`` show both texts."""
        probs = softmax(np.stack(logits).astype(np.float64), axis=-1)
        targets = np.array([labels.id(v) for v in split.frame["label"]])
        metrics = classification_metrics(targets, probs, list(labels.names))
        metrics["roc_auc"] = macro_roc_auc(targets, probs)
        if len(labels) == 2:
            positive = labels.id(self._positive(labels))
            chosen = self._threshold_f1(split.name, targets == positive, probs[:, positive])
            if chosen is not None:
                metrics["threshold_f1"] = {"positive": labels.names[positive], **chosen}
        errors = error_examples(split.frame["text"].tolist(), targets, probs, list(labels.names))
        seconds = split.frame["text_pair"].tolist()
        metrics["errors"] = [{**error, "text_pair": seconds[error["index"]]} for error in errors]
        return metrics

    def example_counts(self, split: Split, features: list[dict[str, Any]], logits: list[np.ndarray],
                       labels: LabelMap) -> np.ndarray:
        """Per example and class (tp, fp, fn), as classification lays them out: summed, the headline macro F1."""
        return self.classification.example_counts(split, features, logits, labels)

    def decode(self, split: Split, features: list[dict[str, Any]], logits: list[np.ndarray],
               labels: LabelMap) -> list[dict[str, Any]]:
        return self.classification.decode(split, features, logits, labels)

    def _threshold_f1(self, split: str, gold: np.ndarray, scores: np.ndarray) -> dict[str, Any] | None:
        """F1 at the threshold chosen on the last validation split scored; on validation itself (or when none
        was scored, e.g. ``finegrain eval --data``: then an optimistic figure, and said so) the best one there."""
        if split == "validation" or self._threshold is None:
            threshold, chosen_on = best_threshold(gold, scores), split
            if split == "validation":
                self._threshold = threshold
        else:
            threshold, chosen_on = self._threshold, "validation"
        if threshold is None:
            return None
        return {"threshold": threshold, "chosen_on": chosen_on, **f1_at(gold, scores, threshold)}

    def _positive(self, labels: LabelMap) -> str:
        """The positive label of two: ``positive_label``, else a label named like a match, else the second."""
        if self.params.positive_label is not None:
            if self.params.positive_label not in labels:
                raise ConfigError(f"task.positive_label is '{self.params.positive_label}', a label the training data"
                                  f" does not have. Labels: {', '.join(labels.names)}.", where="task.positive_label",
                                  hint="set it to one of those labels, or leave it unset.")
            return self.params.positive_label
        named = [name for name in labels.names if name.strip().lower() in POSITIVE_NAMES]
        return named[0] if len(named) == 1 else labels.names[-1]
