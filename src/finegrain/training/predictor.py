"""Loading a finished run and predicting with it, always in input order.

Loading imports neither the training loop nor accelerate's training machinery: a served model
carries only what prediction needs.
"""

from __future__ import annotations

import json

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Literal

import torch

from finegrain.config import RunConfig, load_config
from finegrain.data.inputs import kind_of
from finegrain.data.labels import LabelMap
from finegrain.data.split import Split
from finegrain.errors import DataError
from finegrain.methods.base import is_fitted
from finegrain.tasks.base import Feature, Task
from finegrain.training.estimator_source import load_estimator
from finegrain.training.logits_source import LogitsSource, ModelLogits, TaskEncoding
from finegrain.training.precision import autocast_dtype, resolve_precision
from finegrain.training.run_base import base_builder, run_base_path, run_hints
from finegrain.training.run_dir import RunDir, open_run_dir
from finegrain.training.setup import build_method, build_task, configured_splits, load_tokenizer

__all__ = ["Predictor", "load_predictor", "run_base_builder", "run_splits", "Precision"]

Precision = Literal["auto", "bf16", "fp16", "fp32"]


class Predictor:
    """A trained run, ready to predict: the run's task encodes and decodes, a :class:`LogitsSource`
    (a PyTorch model, an ONNX session, a fitted estimator) computes the logits.

    Example:
        >>> predictor = load_predictor("runs/bbc")  # doctest: +SKIP
        >>> predictor.predict(["Shares rose after the merger."])  # doctest: +SKIP
        [{'label': 'business', 'scores': {'business': 0.97, ...}}]
    """

    def __init__(self, run: RunDir, config: RunConfig, task: Task, labels: LabelMap, source: LogitsSource):
        self.run, self.config, self.task, self.labels, self.source = run, config, task, labels, source

    @property
    def runtime(self) -> str:
        """What computes the logits: "pytorch", "onnxruntime" or "estimator (NAME)"."""
        return self.source.runtime

    def logits(self, split: Split, batch_size: int = 64) -> tuple[list[Feature], list]:
        return self.source.logits(split, batch_size)

    def predict(self, inputs: Sequence[Any] | str, batch_size: int = 64) -> list[dict[str, Any]]:
        """One prediction dict per input (classification: label and scores), in the order given.

        An input is what the run's task predicts from (texts; NER also token lists); anything else is a
        DataError, never turned into a string. One string alone is one input; a list, tuple, array or
        Series holds several.
        """
        if isinstance(inputs, str):
            inputs = [inputs]
        if hasattr(inputs, "tolist"):  # a numpy array or pandas Series of inputs
            inputs = inputs.tolist()
        if not isinstance(inputs, (list, tuple)):
            raise DataError(f"predict takes a list of inputs, not {kind_of(inputs)}.", where="predict",
                            hint='e.g. predict(["great film", "awful day"]).')
        if not inputs:
            return []
        split = self.task.prediction_split(inputs)
        features, logits = self.logits(split, batch_size)
        return self.task.decode_passes(split, features, logits, self.labels, lambda more: self.logits(more, batch_size))

    def explain(self, inputs: Sequence[Any] | str, method: str = "integrated-gradients", target: str | None = None,
                **options: Any) -> list[Any]:
        """Per-word attributions of the predictions, one ``finegrain.explain.Explanation`` per input: words,
        character offsets, scores per target (classification: the predicted class or ``target``; NER: each
        predicted entity), explainer and seconds. ``method``: integrated-gradients, gradient-x-input,
        attention-rollout or occlusion (the only one a fitted method can use); ``options``: ``steps``,
        ``erasure`` (see ``finegrain.explain.explain``).

        Example:
            >>> predictor.explain(["a great film"])[0].targets[0].scores  # doctest: +SKIP
        """
        from finegrain.explain import explain  # captum and the explainers load only when explaining

        return explain(self, inputs, method, target, **options)

    def evaluate(self, split: Split, batch_size: int = 64) -> dict[str, Any]:
        """Metrics on a labelled split (checked against the run's labels)."""
        split = self.task.check(split)
        if self.task.label_column not in split.frame:
            raise DataError(f"The {split.name} data has no labels to evaluate against.", where=split.source)
        self.task.check_labels(split, self.labels)
        features, logits = self.logits(split, batch_size)
        return self.task.evaluate(split, features, logits, self.labels)


def load_predictor(run_dir: str | Path, device: str | None = None, *, base: str | None = None,
                   precision: Precision | None = None) -> Predictor:
    """The run at ``run_dir``, ready to predict; ``base`` points at its base model where the run's own
    reference to it no longer leads there (a run moved without its base model); ``precision`` replaces
    the run's ``train.precision`` for prediction (``fp32`` for exact comparisons)."""
    run = open_run_dir(run_dir)
    config = load_config(run.config, saved=True)
    task, method = build_task(config), build_method(config)
    if run.metrics.is_file():  # what the task tuned on validation (spelling's threshold) predicts as it scored
        task.restore(json.loads(run.metrics.read_text(encoding="utf-8")))
    labels = LabelMap.load(run.labels)
    target = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
    mixed_precision = resolve_precision(precision or config.train.precision, target.type)
    if is_fitted(method):
        model_path = run_base_path(run, config.model.name, base=base) if method.encoder == "base" else None
        source = load_estimator(run.model, config, task, method, target, mixed_precision, model_path)
        return Predictor(run, config, task, labels, source)
    model = method.load(run.model, run_base_builder(run, config.model.name, task, labels, base=base))
    encoding = TaskEncoding(task, labels, load_tokenizer(str(run.model), config.model.max_length),
                            config.model.max_length)
    source = ModelLogits(encoding, model.to(target).eval(), target, autocast_dtype(mixed_precision))
    return Predictor(run, config, task, labels, source)


def run_base_builder(run: RunDir, model_name: str, task: Task, labels: LabelMap, *,
                     base: str | None) -> Callable[[str], torch.nn.Module]:
    """The ``build_base`` that loads a finished run: its recorded base, else where it trained from."""
    return base_builder(task, labels, run, base=base, hints=run_hints(run, model_name))


def run_splits(predictor: Predictor) -> dict[str, Split]:
    """The run's own validation (and test) splits, read again exactly as training read them."""
    splits = configured_splits(predictor.task, predictor.config.data, predictor.config.train.seed)
    return {name: split for name, split in splits.items() if name != "train"}
