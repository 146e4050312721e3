"""The grammar task (``task: grammar``, alias ``gec``; experimental): a text in; the corrected text and its edits
out, GECToR-style (Omelianchuk et al., 2020): a token classifier tags every word with an edit.

Tags come from the (source, target) pairs by our word alignment (:mod:`finegrain.tasks.grammar.tags`); the
vocabulary is $KEEP, $DELETE and the ``vocabulary_size - 2`` most frequent other tags of the training pairs, a
rarer tag is not learnt (-100), never learnt as $KEEP. Prediction tags the text, applies the tags and tags the
corrected text again, ``iterations`` times at most (stopping when nothing changes); ``confidence_bias`` and
``min_error_probability`` are GECToR's additional confidence and minimum error probability. Evaluation
(validation while training, ``finegrain evaluate``) scores one pass: the task gets one pass's logits there.

Nearly every word's tag is $KEEP (97% in en-grammar-synth), so a short run learns to keep everything:
``keep_weight`` scales $KEEP's share of the loss (1.0: plain cross-entropy, as GECToR), and a
``confidence_bias`` left unset (null) is tuned on validation for the best edit F0.5, as spelling tunes its
threshold, and used by prediction and serving afterwards.

Data: ``source`` (with errors) and ``target`` (corrected) columns: JSON lines, a tsv with a header, or an M2
file (``.m2``, annotator 0). Pairs of any length.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, ClassVar

import numpy as np
import torch
from pydantic import Field

from finegrain.config import Section
from finegrain.data.inputs import InputFormat
from finegrain.data.labels import LabelMap
from finegrain.data.split import Split
from finegrain.registry import TASKS
from finegrain.tasks.base import Feature, Task
from finegrain.tasks.explaining import ExplainView
from finegrain.tasks.grammar import report, tiny
from finegrain.tasks.grammar.decoding import Pass, final_edits, tag_pass
from finegrain.tasks.grammar.encoding import encode_sources, pair_tags, tag_vocabulary
from finegrain.tasks.grammar.explaining import grammar_view
from finegrain.tasks.grammar.inputs import INPUT_FORMATS, prediction_frame
from finegrain.tasks.grammar.metrics import edit_counts, error_analysis, f05_of_counts, grammar_metrics
from finegrain.tasks.grammar.model import build_grammar_model
from finegrain.tasks.grammar.serving import PAYLOAD
from finegrain.tasks.grammar.tags import KEEP
from finegrain.tasks.modeling import head_module_names, token_cross_entropy
from finegrain.tasks.ner.alignment import IGNORE_INDEX
from finegrain.tasks.outputs import ClassScores, Column, ReportSections, ServingPayload, StudyView
from finegrain.tasks.spelling.checks import LOGGER, check_not_empty, warn_if_unchanged
from finegrain.tasks.spelling.encoding import collate

__all__ = ["GrammarTask", "GrammarParams", "BIAS_GRID"]

BIAS_GRID = tuple(round(float(b), 2) for b in np.arange(-0.95, 0.96, 0.05))  # confidence biases tried on validation

LogitsOf = Callable[[Split], tuple[list[Feature], list[np.ndarray]]]


class GrammarParams(Section):
    vocabulary_size: int = Field(5000, ge=2)  # GECToR's: the 5,000 most frequent tags cover nearly all edits
    iterations: int = Field(3, ge=1, le=10)  # passes at prediction; GECToR gains little after 3-5
    # added to $KEEP's probability: higher = fewer changes; None: tuned on validation for edit F0.5
    confidence_bias: float | None = Field(None, ge=-1, le=1)
    keep_weight: float = Field(1.0, gt=0, le=1)  # $KEEP's weight in the loss, the other tags' being 1
    min_error_probability: float = Field(0.0, ge=0, le=1)  # a sentence whose likeliest edit is below it stays


@TASKS.register("grammar", aliases=("gec",))
class GrammarTask(Task):
    """Grammatical error correction by edit tagging (experimental).

    Example:
        >>> GrammarTask().columns({"text": "text", "label": "label"})
        {'source': 'source', 'target': 'target'}
    """

    name: ClassVar[str] = "grammar"
    Params: ClassVar[type[GrammarParams]] = GrammarParams
    pipeline_tag: ClassVar[str] = "token-classification"  # a tag per word
    label_column: ClassVar[str] = "target"
    stratify: ClassVar[str | None] = None
    primary_metric: ClassVar[str] = "f0_5"  # strict edit-level F0.5, the CoNLL-2014 / BEA-2019 headline
    greater_is_better: ClassVar[bool] = True
    logged_metrics: ClassVar[tuple[str, ...]] = ("precision", "recall")
    summary_columns: ClassVar[tuple[Column, ...]] = report.SUMMARY_COLUMNS
    class_scores: ClassVar[ClassScores | None] = None
    report: ClassVar[ReportSections] = report.REPORT
    study: ClassVar[StudyView] = StudyView("edit F0.5 (strict)", f05_of_counts, lambda metrics: {})
    serving: ClassVar[ServingPayload] = PAYLOAD
    input_formats: ClassVar[tuple[InputFormat, ...]] = INPUT_FORMATS
    tiny_dataset = staticmethod(tiny.tiny_dataset)
    description: ClassVar[str] = "grammatical error correction (experimental)"
    single_label: ClassVar[bool] = False
    robustness: ClassVar[None] = None  # perturbing a text with errors in it changes what its correction should be

    def __init__(self, params: GrammarParams | None = None):
        self.params = params or GrammarParams()
        self._bias: float | None = None  # tuned on the last validation split scored
        self._weights: torch.Tensor | None = None  # per tag, for the loss (set with the model)

    def restore(self, metrics: Mapping[str, Mapping[str, Any]]) -> None:
        """The confidence bias tuned on validation when the run finished, so predictions use what test scored."""
        tuned = (metrics.get("validation") or {}).get("confidence_bias")
        if self.params.confidence_bias is None and isinstance(tuned, (int, float)):
            self._bias = float(tuned)

    @property
    def explaining(self) -> ExplainView:
        return grammar_view(self.encode)

    def columns(self, chosen: Mapping[str, str]) -> dict[str, str]:
        """``source``/``target`` unless ``data.text``/``data.label`` name other columns."""
        text, label = chosen["text"], chosen["label"]
        return {"source": "source" if text == "text" else text, "target": "target" if label == "label" else label}

    def check(self, split: Split) -> Split:
        """Sources (and targets) as strings, empty ones refused with their rows; an unchanged training file warned."""
        frame = split.frame.copy()
        frame["source"] = check_not_empty(split, "source", "source text")
        if "target" in frame:
            frame["target"] = check_not_empty(split, "target", "target text")
            warn_if_unchanged(split.name, frame, split.source)
        return Split(split.name, frame, split.source)

    def prediction_split(self, inputs: Sequence[Any]) -> Split:
        return self.check(Split("input", prediction_frame(inputs), "input"))

    def input_fields(self, value: str) -> dict[str, Any]:
        return {"text": value}

    def predict_inputs(self, split: Split) -> list[str]:
        return split.frame["source"].tolist()

    def label_map(self, train: Split) -> LabelMap:
        """The tag vocabulary of the training pairs; says once that the task is experimental."""
        LOGGER.warning("finegrain: task 'grammar' is experimental: GECToR-style edit tags, scored by finegrain's own"
                       " word alignment (close to, not the same as, the M2 scorer or ERRANT).")
        tags = pair_tags(train.frame["source"].tolist(), train.frame["target"].tolist())
        return LabelMap(tag_vocabulary(tags, self.params.vocabulary_size))

    def check_labels(self, split: Split, labels: LabelMap) -> None:
        """Any corrected text is a valid target (tags outside the vocabulary are not learnt): nothing to refuse."""

    def build_model(self, model_path: str, labels: LabelMap, *, random_init: bool = False) -> torch.nn.Module:
        if self.params.keep_weight != 1.0:
            self._weights = torch.ones(len(labels))
            self._weights[labels.id(KEEP)] = self.params.keep_weight
        return build_grammar_model(model_path, labels, random_init=random_init)

    def head_names(self, model: torch.nn.Module) -> list[str]:
        return head_module_names(model)

    def encode(self, split: Split, tokenizer: Any, labels: LabelMap, max_length: int) -> list[dict[str, Any]]:
        frame = split.frame
        tags = pair_tags(frame["source"].tolist(), frame["target"].tolist()) if "target" in frame else None
        return encode_sources(tokenizer, frame["source"].tolist(), tags, labels.label2id, max_length)

    def collate(self, features: list[dict[str, Any]], pad_id: int) -> dict[str, torch.Tensor]:
        return collate(features, pad_id)

    def loss(self, logits: torch.Tensor, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        """Cross-entropy over the tagged first sub-tokens, in float32 ($KEEP weighed by ``keep_weight``); 0 for a
        batch without any."""
        if self._weights is not None and self._weights.device != logits.device:
            self._weights = self._weights.to(logits.device)
        return token_cross_entropy(logits, batch["labels"], IGNORE_INDEX, weight=self._weights)

    @property
    def bias(self) -> float:
        """The confidence bias in use: the configured one, else the one tuned on validation, else 0."""
        chosen = self.params.confidence_bias
        return chosen if chosen is not None else self._bias if self._bias is not None else 0.0

    def _pass(self, texts: Sequence[str], origins: Sequence[Any], features: list[dict[str, Any]],
              logits: list[np.ndarray], labels: LabelMap, bias: float | None = None) -> list[Pass]:
        return tag_pass(texts, origins, features, logits, labels.names, labels.id(KEEP),
                        self.bias if bias is None else bias, self.params.min_error_probability)

    def _corrected(self, split: Split, features: list[dict[str, Any]], logits: list[np.ndarray],
                   labels: LabelMap) -> list[str]:
        """One pass's corrected texts; on validation (with a free bias) the bias is tuned first."""
        sources = split.frame["source"].tolist()
        origins = [None] * len(sources)
        if self.params.confidence_bias is None and split.name == "validation" and "target" in split.frame:
            targets = split.frame["target"].tolist()
            scores = {}
            for bias in BIAS_GRID:
                texts = [one.applied.text for one in self._pass(sources, origins, features, logits, labels, bias)]
                scores[bias] = float(f05_of_counts(edit_counts(sources, targets, texts).sum(axis=0)))
            best = max(scores.values())
            # the highest bias (fewest changes) among the best; 0 when no bias makes a right edit
            self._bias = max(b for b, score in scores.items() if score == best) if best > 0 else 0.0
        return [one.applied.text for one in self._pass(sources, origins, features, logits, labels)]

    def evaluate(self, split: Split, features: list[dict[str, Any]], logits: list[np.ndarray],
                 labels: LabelMap) -> dict[str, Any]:
        predicted = self._corrected(split, features, logits, labels)
        sources, targets = split.frame["source"].tolist(), split.frame["target"].tolist()
        metrics = grammar_metrics(sources, targets, predicted)
        metrics["passes"] = 1
        metrics["confidence_bias"] = self.bias
        metrics["error_analysis"] = error_analysis(sources, targets, predicted)
        return metrics

    def example_counts(self, split: Split, features: list[dict[str, Any]], logits: list[np.ndarray],
                       labels: LabelMap) -> np.ndarray:
        predicted = self._corrected(split, features, logits, labels)
        return edit_counts(split.frame["source"].tolist(), split.frame["target"].tolist(), predicted)

    def decode(self, split: Split, features: list[dict[str, Any]], logits: list[np.ndarray],
               labels: LabelMap) -> list[dict[str, Any]]:
        """One pass: the text, its corrected version and the edits (offsets in the text)."""
        return self._decoded(split, features, logits, labels, None)

    def decode_passes(self, split: Split, features: list[dict[str, Any]], logits: list[np.ndarray],
                      labels: LabelMap, logits_of: LogitsOf) -> list[dict[str, Any]]:
        """Up to ``iterations`` passes, each over the texts the last one changed."""
        return self._decoded(split, features, logits, labels, logits_of)

    def _decoded(self, split: Split, features: list[dict[str, Any]], logits: list[np.ndarray], labels: LabelMap,
                 logits_of: LogitsOf | None) -> list[dict[str, Any]]:
        sources = split.frame["source"].tolist()
        passes = self._pass(sources, [None] * len(sources), features, logits, labels)
        records = [list(one.records) for one in passes]
        current = [one.applied for one in passes]
        changed = [i for i, one in enumerate(passes) if one.records and one.applied.text != sources[i]]
        for _ in range(self.params.iterations - 1 if logits_of is not None else 0):
            if not changed:
                break
            texts = [current[i].text for i in changed]
            more_features, more_logits = logits_of(self.prediction_split(texts))
            again = self._pass(texts, [current[i].origins for i in changed], more_features, more_logits, labels)
            still = []
            for i, one in zip(changed, again):
                if one.applied.text != current[i].text:
                    records[i].extend(one.records)
                    current[i] = one.applied
                    still.append(i)
            changed = still
        return [{"text": source, "corrected": applied.text, "edits": final_edits(source, applied.text, found)}
                for source, applied, found in zip(sources, current, records)]
