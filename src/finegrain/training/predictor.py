"""Loading a finished run and predicting with it, always in input order."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import partial
from pathlib import Path
from typing import Any

import torch

from finegrain.config import RunConfig, load_config
from finegrain.data.inputs import kind_of
from finegrain.data.labels import LabelMap
from finegrain.data.split import Split
from finegrain.errors import DataError
from finegrain.training.estimator_runner import estimator_backend, is_estimator
from finegrain.training.inference import LogitsBackend, ordered_logits, predict_logits
from finegrain.training.precision import autocast_dtype, resolve_precision
from finegrain.training.run_base import base_builder, run_base_path, run_hints
from finegrain.training.run_dir import RunDir, open_run_dir
from finegrain.training.setup import build_method, build_task, configured_splits, load_tokenizer

__all__ = ["Predictor", "load_predictor", "run_base_builder", "run_splits"]


class Predictor:
    """A trained run, ready to predict.

    Example:
        >>> predictor = load_predictor("runs/bbc")  # doctest: +SKIP
        >>> predictor.predict(["Shares rose after the merger."])  # doctest: +SKIP
        [{'label': 'business', 'scores': {'business': 0.97, ...}}]
    """

    def __init__(self, run: RunDir, config: RunConfig, task: Any, labels: LabelMap, model: torch.nn.Module | None,
                 tokenizer: Any, device: torch.device, backend: LogitsBackend | None = None,
                 split_logits: Callable[[Split, int], tuple[list[dict[str, Any]], list]] | None = None):
        self.run, self.config, self.task, self.labels = run, config, task, labels
        self.model, self.tokenizer, self.device = model, tokenizer, device
        self.backend = backend  # another runtime in place of ``model`` (ONNX exports); same encode/decode
        self.dtype = autocast_dtype(resolve_precision(config.train.precision, device.type))
        # (split, batch_size) -> (features, logits): an estimator (tfidf, setfit) that reads texts itself
        self.split_logits = split_logits

    def logits(self, split: Split, batch_size: int = 64) -> tuple[list[dict[str, Any]], list]:
        if self.split_logits is not None:
            return self.split_logits(split, batch_size)
        features = self.task.encode(split, self.tokenizer, self.labels, self.config.model.max_length)
        collate = partial(self.task.collate, pad_id=self.tokenizer.pad_token_id or 0)
        if self.backend is not None:
            return features, ordered_logits(features, collate, batch_size=batch_size, backend=self.backend)
        logits = predict_logits(self.model, features, collate, batch_size=batch_size, device=self.device,
                                dtype=self.dtype)
        return features, logits

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
        return self.task.decode(split, features, logits, self.labels)

    def evaluate(self, split: Split, batch_size: int = 64) -> dict[str, Any]:
        """Metrics on a labelled split (checked against the run's labels)."""
        split = self.task.check(split)
        if self.task.label_column not in split.frame:
            raise DataError(f"The {split.name} data has no labels to evaluate against.", where=split.source)
        self.task.check_labels(split, self.labels)
        features, logits = self.logits(split, batch_size)
        return self.task.evaluate(split, features, logits, self.labels)


def load_predictor(run_dir: str | Path, device: str | None = None, *, base: str | None = None) -> Predictor:
    """The run at ``run_dir``, ready to predict; ``base`` points at its base model where the run's own
    reference to it no longer leads there (a run moved without its base model)."""
    run = open_run_dir(run_dir)
    config = load_config(run.config, saved=True)
    task, method = build_task(config), build_method(config)
    labels = LabelMap.load(run.labels)
    target = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
    if is_estimator(method):
        model_path = run_base_path(run, config.model.name, base=base) if method.encoder == "base" else None
        backend = estimator_backend(run.model, config, task, method, target, model_path)
        return Predictor(run, config, task, labels, None, None, target, split_logits=backend)
    model = method.load(run.model, run_base_builder(run, config.model.name, task, labels, base=base))
    tokenizer = load_tokenizer(str(run.model), config.model.max_length)
    return Predictor(run, config, task, labels, model.to(target).eval(), tokenizer, target)


def run_base_builder(run: RunDir, model_name: str, task: Any, labels: LabelMap, *,
                     base: str | None) -> Callable[[str], torch.nn.Module]:
    """The ``build_base`` that loads a finished run: its recorded base, else where it trained from."""
    return base_builder(task, labels, run, base=base, hints=run_hints(run, model_name))


def run_splits(predictor: Predictor) -> dict[str, Split]:
    """The run's own validation (and test) splits, read again exactly as training read them."""
    splits = configured_splits(predictor.task, predictor.config.data, predictor.config.train.seed)
    return {name: split for name, split in splits.items() if name != "train"}

