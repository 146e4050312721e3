"""The classification task: reads text/label columns, builds a sequence-classification head."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar, Literal

import numpy as np
import torch
import torch.nn.functional as F
from pydantic import Field

from finegrain.config import Section
from finegrain.data.inputs import InputFormat
from finegrain.data.labels import LabelMap
from finegrain.data.split import Split
from finegrain.registry import TASKS
from finegrain.searchable import searchable
from finegrain.tasks.base import Task
from finegrain.tasks.classification import checks, outputs, tiny
from finegrain.tasks.classification.explaining import class_view
from finegrain.tasks.classification.first_token import first_token_last_layer
from finegrain.tasks.classification.inputs import INPUT_FORMATS, prediction_frame
from finegrain.tasks.classification.metrics import classification_metrics, error_examples
from finegrain.tasks.classification.serving import PAYLOAD
from finegrain.tasks.classification.robustness import class_robust_view
from finegrain.tasks.explaining import ExplainView
from finegrain.tasks.robustness import RobustView
from finegrain.tasks.modeling import build_pretrained, head_module_names
from finegrain.tasks.outputs import ClassScores, Column, ReportSections, ServingPayload, StudyView

__all__ = ["ClassificationTask", "ClassificationParams"]


class ClassificationParams(Section):
    multi_label: bool = False  # several labels per text (sigmoid outputs, threshold below)
    label_separator: str = "|"  # splits a multi-label string such as "sports|politics"
    # balanced: loss weights ~ 1/frequency; finegrain tune tries both
    class_weights: Literal["none", "balanced"] = Field("none", json_schema_extra=searchable(every_choice=True))
    threshold: float = Field(0.5, gt=0, lt=1)  # multi-label decision threshold
    # The last encoder layer computes only the first token, the one the head reads: same logits and
    # gradients, less work per step (BERT/RoBERTa/ELECTRA-style encoders; others ignore it). Why:
    # first_token.py; measured: benchmarks/results/train_speed_first_token.txt.
    first_token_last_layer: bool = True


@TASKS.register("classification", aliases=("text-classification", "sequence-classification"))
class ClassificationTask(Task):
    """Single-label (softmax) or multi-label (sigmoid) text classification.

    Example:
        >>> task = ClassificationTask(ClassificationParams())
        >>> task.columns({"text": "review", "label": "stars"})
        {'text': 'review', 'label': 'stars'}
    """

    name: ClassVar[str] = "classification"
    Params: ClassVar[type[ClassificationParams]] = ClassificationParams
    pipeline_tag: ClassVar[str] = "text-classification"
    label_column: ClassVar[str] = "label"
    primary_metric: ClassVar[str] = "macro_f1"  # robust to class imbalance, unlike accuracy
    greater_is_better: ClassVar[bool] = True
    logged_metrics: ClassVar[tuple[str, ...]] = ("accuracy",)  # beside macro-F1 in each evaluation's log line
    summary_columns: ClassVar[tuple[Column, ...]] = outputs.SUMMARY_COLUMNS
    class_scores: ClassVar[ClassScores | None] = outputs.CLASS_SCORES
    report: ClassVar[ReportSections] = outputs.REPORT
    study: ClassVar[StudyView] = outputs.STUDY
    serving: ClassVar[ServingPayload] = PAYLOAD
    input_formats: ClassVar[tuple[InputFormat, ...]] = INPUT_FORMATS
    tiny_dataset = staticmethod(tiny.tiny_dataset)

    def __init__(self, params: ClassificationParams | None = None):
        self.params = params or ClassificationParams()
        self._class_weights: torch.Tensor | None = None

    @property
    def single_label(self) -> bool:
        """One class per text: what fitted methods (tfidf, setfit, embeddings-lr) learn."""
        return not self.params.multi_label

    @property
    def description(self) -> str:
        return "multi-label classification" if self.params.multi_label else "single-label classification"

    @property
    def explaining(self) -> ExplainView:
        """The predicted class (or the one asked for), from the words of the text."""
        return class_view(("text",), multi_label=self.params.multi_label)

    @property
    def robustness(self) -> RobustView:
        """The text as a sentence, the gold class beside it."""
        return class_robust_view(("text",), multi_label=self.params.multi_label)

    @property
    def stratify(self) -> str | None:
        """Splits keep the class proportions of single-label data; a multi-label text has no one class."""
        return None if self.params.multi_label else "label"

    def columns(self, chosen: Mapping[str, str]) -> dict[str, str]:
        return {"text": chosen["text"], "label": chosen["label"]}

    def check(self, split: Split) -> Split:
        frame = split.frame.copy()
        frame["text"] = checks.check_texts(split)
        if "label" in frame:
            frame["label"] = checks.parse_labels(split, self.params.multi_label, self.params.label_separator)
        return Split(split.name, frame, split.source)

    def prediction_split(self, inputs: Sequence[Any]) -> Split:
        return self.check(Split("input", prediction_frame(inputs), "input"))

    def input_fields(self, value: str) -> dict[str, Any]:
        return {"text": value}

    def predict_inputs(self, split: Split) -> list[str]:
        return split.frame["text"].tolist()

    def label_map(self, train: Split) -> LabelMap:
        """The label map of the training data; also remembers class frequencies for class weights."""
        values = self._flat_labels(train)
        checks.check_label_count(train, values)
        checks.warn_label_spellings(train, self.params.multi_label)
        labels = LabelMap.from_values(values)
        counts = Counter(values)
        frequency = torch.tensor([counts[name] for name in labels.names], dtype=torch.float)
        if self.params.multi_label:  # positive weight per label: negatives / positives
            self._class_weights = (len(train) - frequency).clamp(min=1) / frequency
        else:
            self._class_weights = frequency.sum() / (len(labels) * frequency)
        return labels

    def check_labels(self, split: Split, labels: LabelMap) -> None:
        checks.check_known_labels(split, labels, self.params.multi_label)

    def build_model(self, model_path: str, labels: LabelMap, *, random_init: bool = False) -> torch.nn.Module:
        problem = "multi_label_classification" if self.params.multi_label else "single_label_classification"
        model = build_pretrained("sequence", model_path, labels, random_init=random_init, problem_type=problem)
        if self.params.first_token_last_layer:
            first_token_last_layer(model)
        return model

    def head_names(self, model: torch.nn.Module) -> list[str]:
        return head_module_names(model)

    def encode(self, split: Split, tokenizer: Any, labels: LabelMap, max_length: int) -> list[dict[str, Any]]:
        encoded = tokenizer(split.frame["text"].tolist(), truncation=True, max_length=max_length)
        targets = self._targets(split, labels) if "label" in split.frame else None
        return [
            {"input_ids": ids, "example": i, **({"labels": targets[i]} if targets is not None else {})}
            for i, ids in enumerate(encoded["input_ids"])
        ]

    def fit_targets(self, split: Split, labels: LabelMap, features: list[dict[str, Any]] | None) -> np.ndarray:
        """Class ids (a 0/1 row per text when multi-label), read from the split: no tokenizer needed (tfidf)."""
        return np.array(self._targets(split, labels))

    def collate(self, features: list[dict[str, Any]], pad_id: int) -> dict[str, torch.Tensor]:
        width = max(len(f["input_ids"]) for f in features)
        input_ids = torch.full((len(features), width), pad_id, dtype=torch.long)
        attention_mask = torch.zeros((len(features), width), dtype=torch.long)
        for row, feature in enumerate(features):
            ids = feature["input_ids"]
            input_ids[row, : len(ids)] = torch.tensor(ids, dtype=torch.long)
            attention_mask[row, : len(ids)] = 1
        batch = {"input_ids": input_ids, "attention_mask": attention_mask}
        if "labels" in features[0]:
            dtype = torch.float if self.params.multi_label else torch.long
            batch["labels"] = torch.tensor(np.array([f["labels"] for f in features]), dtype=dtype)
        return batch

    def loss(self, logits: torch.Tensor, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        weights = None
        if self.params.class_weights == "balanced" and self._class_weights is not None:
            weights = self._class_weights.to(logits.device)
        if self.params.multi_label:
            return F.binary_cross_entropy_with_logits(logits.float(), batch["labels"], pos_weight=weights)
        return F.cross_entropy(logits.float(), batch["labels"], weight=weights)

    def evaluate(self, split: Split, features: list[dict[str, Any]], logits: list[np.ndarray],
                 labels: LabelMap) -> dict[str, Any]:
        probs = self._probabilities(logits)
        targets = np.asarray(self._targets(split, labels))
        metrics = classification_metrics(targets, probs, list(labels.names), multi_label=self.params.multi_label,
                                          threshold=self.params.threshold)
        if not self.params.multi_label:
            metrics["errors"] = error_examples(split.frame["text"].tolist(), targets, probs, list(labels.names))
        return metrics

    def example_counts(self, split: Split, features: list[dict[str, Any]], logits: list[np.ndarray],
                       labels: LabelMap) -> np.ndarray:
        """Per example and class (tp, fp, fn) as ``[tp_0..tp_C, fp_0..fp_C, fn_0..fn_C]``: summed, they
        give the headline ``macro_f1`` (``study.score_counts``); resampled, its confidence interval."""
        probs = self._probabilities(logits)
        n_classes = len(labels.names)
        if self.params.multi_label:
            gold = np.asarray(self._targets(split, labels)) > 0.5
            pred = probs >= self.params.threshold
        else:
            gold = np.eye(n_classes, dtype=bool)[np.asarray(self._targets(split, labels), dtype=int)]
            pred = np.eye(n_classes, dtype=bool)[probs.argmax(axis=1)]
        return np.concatenate([gold & pred, ~gold & pred, gold & ~pred], axis=1).astype(np.int64)

    def decode(self, split: Split, features: list[dict[str, Any]], logits: list[np.ndarray],
               labels: LabelMap) -> list[dict[str, Any]]:
        probs = self._probabilities(logits)
        predictions = []
        for row in probs:
            scores = {name: round(float(p), 6) for name, p in zip(labels.names, row)}
            top = labels.names[int(row.argmax())]
            if self.params.multi_label:
                chosen = [name for name, p in zip(labels.names, row) if p >= self.params.threshold]
                predictions.append({"label": top, "labels": chosen, "scores": scores})
            else:
                predictions.append({"label": top, "scores": scores})
        return predictions

    def _probabilities(self, logits: list[np.ndarray]) -> np.ndarray:
        stacked = torch.from_numpy(np.stack(logits)).float()
        return (torch.sigmoid(stacked) if self.params.multi_label else torch.softmax(stacked, -1)).numpy()

    def _targets(self, split: Split, labels: LabelMap) -> list:
        if self.params.multi_label:
            return [[1.0 if name in v else 0.0 for name in labels.names] for v in split.frame["label"]]
        return [labels.id(v) for v in split.frame["label"]]

    def _flat_labels(self, split: Split) -> list[str]:
        if self.params.multi_label:
            return [name for names in split.frame["label"] for name in names]
        return split.frame["label"].tolist()
