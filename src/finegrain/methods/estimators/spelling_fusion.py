"""``lm-fusion``: a spelling model fine-tuned here and the character n-gram language model, scoring the
confusion-set candidates together (Chinese, the character level of the spelling task).

Each alone is weak on real errors (sighan15): the masked-LM head of a small encoder trained on synthetic
errors mostly copies what is written, and the trigram model knows no context beyond two characters. Together,
each candidate ``c`` of a written character ``w`` (its confusion set, :mod:`finegrain.data.confusion_sets`) is
scored ``model_weight x (log p_model(c) - log p_model(w)) + LM gain`` (the gain: the log-probability of the
trigrams around it with ``c`` in place of ``w``, as ``char-ngram`` computes it), a log-linear product of the
two models' odds of ``c`` over ``w``. The best candidate at each character is proposed with probability
``sigmoid(score)``, every character scored on the text as written; the spelling task accepts those above the
threshold it tunes on validation (``task.threshold_beta``).

The model is the task's spelling model (:mod:`finegrain.tasks.spelling.model`) built from ``model.name`` and
fully fine-tuned through the one loop on the training pairs (``train.lr``, ``train.batch_size``, precision
and seed apply; ``epochs`` counts its passes); the run saves it in Hugging Face format beside ``ngrams.json``.

Example:
    >>> LmFusion().params.model_weight
    0.5
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

import numpy as np
import torch
from pydantic import Field

from finegrain.data.labels import LabelMap
from finegrain.methods.base import EncoderSource, FittedMethod, MethodBasics
from finegrain.methods.estimators.base import EstimatorContext, FitStats
from finegrain.methods.estimators.char_ngram import CharNgram
from finegrain.methods.estimators.spelling_ngram import CandidateParams, candidate_table, check_character_level, \
    count_ngrams, unchanged_answers
from finegrain.registry import METHODS
from finegrain.tasks.spelling.encoding import collate, encode_pairs
from finegrain.tasks.spelling.model import build_spelling_model

if TYPE_CHECKING:
    from finegrain.tasks.base import Task

__all__ = ["LmFusion", "LmFusionParams"]

_LABELS = LabelMap.from_values(["correct", "wrong"])  # the detection head's outcomes, as the spelling task's
_BATCH = 32  # texts per forward pass when scoring


class LmFusionParams(CandidateParams):
    # weight of the model's log-probability ratio against the LM gain's 1: 0.5 and 0.25 did best on the synthetic
    # validation split with albert-tiny-zh (benchmarks/results/spelling_zh_hybrid.txt)
    model_weight: float = Field(0.5, ge=0)
    epochs: float = Field(1.0, ge=0)  # fine-tuning passes over the training pairs; 0 uses the model as it is
    detection_weight: float = Field(0.3, ge=0, le=1)  # of the fine-tuning loss, as task.detection_weight


@METHODS.register("lm-fusion", aliases=("ngram-fusion",))
class LmFusion(FittedMethod):
    """A fine-tuned spelling model and a character trigram model, scoring confusion-set candidates together."""

    name: ClassVar[str] = "lm-fusion"
    Params: ClassVar[type[LmFusionParams]] = LmFusionParams
    tasks: ClassVar[tuple[str, ...]] = ("spelling",)
    encoder: ClassVar[EncoderSource] = "saved"  # the fine-tuned spelling model is saved in the run
    default_lr: ClassVar[float] = 5e-4  # albert-tiny-zh's spelling lr (benchmarks/spelling_zh.py)

    def __init__(self, params: LmFusionParams | None = None):
        self.params = params or LmFusionParams()
        self.lm = CharNgram()
        self.model: torch.nn.Module | None = None
        self.tokenizer = None

    def check_task(self, task: Task) -> None:
        MethodBasics.check_task(self, task)
        check_character_level(self.name, task)

    def fit(self, texts: list[str], targets: np.ndarray, context: EstimatorContext) -> FitStats:
        from finegrain.tasks.spelling.task import SpellingParams, SpellingTask

        self.lm = count_ngrams(targets, self.params.corpora, context.held_out)
        self.tokenizer = context.load_tokenizer(context.model_path)
        self.model = build_spelling_model(context.model_path, _LABELS)
        corrected = [str(target) for target in targets]
        features = encode_pairs(self.tokenizer, texts, corrected, [len(s) == len(t) for s, t in zip(texts, corrected)],
                                self.tokenizer.model_max_length)
        if self.params.epochs > 0:
            objective = SpellingTask(SpellingParams(detection_weight=self.params.detection_weight))
            context.fine_tune(self.model, objective, features, self.tokenizer.pad_token_id or 0, self.params.epochs)
        weights = sum(p.numel() for p in self.model.parameters())
        counted = sum(len(counter) for counter in self.lm.counts)  # n-gram counts are fitted numbers, as in char-ngram
        return FitStats(weights + counted, weights + counted)

    def _model_log_probs(self, features: list[dict]) -> Iterator[torch.Tensor]:
        """Per feature, in order, the masked-LM head's log-probabilities over the vocabulary at each position;
        one batch at a time, so the whole vocabulary is held for ``_BATCH`` texts only."""
        model = self.model.eval()
        body, head = getattr(model, model.base_model_prefix), model.classifier.mlm
        device = next(model.parameters()).device
        with torch.no_grad():
            for start in range(0, len(features), _BATCH):
                chunk = features[start:start + _BATCH]
                batch = collate(chunk, self.tokenizer.pad_token_id or 0)
                hidden = body(input_ids=batch["input_ids"].to(device),
                              attention_mask=batch["attention_mask"].to(device)).last_hidden_state
                scores = head(hidden).float().log_softmax(-1).cpu()
                yield from (scores[row, : len(feature["input_ids"])] for row, feature in enumerate(chunk))

    def log_probs(self, texts: list[str], context: EstimatorContext) -> np.ndarray:
        vocabulary = self.tokenizer.get_vocab()
        candidates = candidate_table(texts, self.params.sound_alike)
        features = encode_pairs(self.tokenizer, texts, None, None, self.tokenizer.model_max_length)
        answers = unchanged_answers(texts)
        unknown, weight = self.tokenizer.unk_token_id, self.params.model_weight
        for row, (text, feature, scores) in enumerate(zip(texts, features, self._model_log_probs(features))):
            position_of = {char: k for k, char in enumerate(feature["chars"]) if char is not None}
            for char, gains in self.lm.gains(text, candidates):
                k = position_of.get(char)  # None past max_length: left as written, as the task does
                if k is None or feature["input_ids"][k] == unknown:
                    continue
                written = scores[k, feature["input_ids"][k]]
                scored = [(weight * float(scores[k, vocabulary[c]] - written) + gain, c)
                          for c, gain in gains if c in vocabulary]
                if scored:
                    score, best = max(scored)
                    answers[row, char] = (score, ord(best), 1.0 / (1.0 + math.exp(-score)))
        return answers

    def save(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self.model.save_pretrained(directory)
        self.tokenizer.save_pretrained(directory)
        (directory / "ngrams.json").write_text(json.dumps(self.lm.state(), ensure_ascii=False), encoding="utf-8")

    def load(self, directory: Path, context: EstimatorContext) -> LmFusion:
        self.tokenizer = context.load_tokenizer(str(directory))
        self.model = build_spelling_model(str(directory), _LABELS)
        self.lm = CharNgram.from_state(json.loads((directory / "ngrams.json").read_text(encoding="utf-8")))
        return self
