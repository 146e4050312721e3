"""Where a predictor's logits come from: one :class:`LogitsSource`, whatever computes them.

A PyTorch model (:class:`ModelLogits`), another runtime behind the same encoding such as an ONNX
session (:class:`BackendLogits`, :mod:`finegrain.serving.onnx_export`), or a fitted estimator that
reads the texts itself (:mod:`finegrain.training.estimator_source`). The predictor and the service
ask the source; they never look at what it is.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from typing import Any, ClassVar, Protocol

import numpy as np
import torch

from finegrain.data.labels import LabelMap
from finegrain.data.split import Split
from finegrain.tasks.base import Feature, Task
from finegrain.training.inference import Collate, LogitsBackend, ordered_logits, predict_logits

__all__ = ["LogitsSource", "TaskEncoding", "ModelLogits", "BackendLogits"]


class LogitsSource(Protocol):
    runtime: str  # what computes the logits, as the service reports it: "pytorch", "onnxruntime", ...

    def logits(self, split: Split, batch_size: int) -> tuple[list[Feature], list[np.ndarray]]:
        """The split's features (as the task encodes them, or one per example) and their logits, in input order."""


@dataclass(frozen=True)
class TaskEncoding:
    """How a split becomes model inputs: the task's ``encode`` with the run's tokenizer, and its ``collate``."""

    task: Task
    labels: LabelMap
    tokenizer: Any
    max_length: int

    def encode(self, split: Split) -> list[Feature]:
        return self.task.encode(split, self.tokenizer, self.labels, self.max_length)

    @property
    def collate(self) -> Collate:
        return partial(self.task.collate, pad_id=self.tokenizer.pad_token_id or 0)


@dataclass
class ModelLogits:
    """A PyTorch model, run in eval mode under autocast to ``dtype`` (None: fp32)."""

    encoding: TaskEncoding
    model: torch.nn.Module
    device: torch.device
    dtype: torch.dtype | None
    runtime: ClassVar[str] = "pytorch"

    def logits(self, split: Split, batch_size: int) -> tuple[list[Feature], list[np.ndarray]]:
        features = self.encoding.encode(split)
        return features, predict_logits(self.model, features, self.encoding.collate, batch_size=batch_size,
                                        device=self.device, dtype=self.dtype)


@dataclass
class BackendLogits:
    """Another runtime (``backend``: padded batch -> logits) behind the same encoding and decoding."""

    encoding: TaskEncoding
    backend: LogitsBackend
    runtime: str

    def logits(self, split: Split, batch_size: int) -> tuple[list[Feature], list[np.ndarray]]:
        features = self.encoding.encode(split)
        return features, ordered_logits(features, self.encoding.collate, batch_size=batch_size, backend=self.backend)
