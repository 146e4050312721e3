"""What a run spent, as ``run.json`` records it: training time, samples (tokens) per second, peak memory."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

__all__ = ["Costs"]


@dataclass(frozen=True)
class Costs:
    train_seconds: float  # training only: evaluation and checkpoints excluded
    samples: int  # samples trained on (examples for an estimator's fit)
    peak_memory_mb: float
    peak_rss_mb: float | None = None  # CPU: the resident high-water mark beside the heap in use
    tokens: float | None = None  # pretraining: tokens trained on, for tokens/s
    adversarial: dict[str, Any] | None = None  # train.adversarial's passes and seconds per batch (its cost)

    def fields(self, started: float) -> dict[str, Any]:
        """``timing`` and the peak memory fields of ``run.json``; ``started`` is the ``time.perf_counter()``
        at which this session began."""
        seconds = max(self.train_seconds, 1e-9)
        # to the hundredth, but a fit of a few milliseconds (counting n-grams) keeps its digits rather than reading 0.0
        timing = {"train_seconds": round(self.train_seconds, 2 if self.train_seconds >= 0.01 else 4),
                  **({} if self.tokens is None else {"tokens_per_second": round(self.tokens / seconds, 1)}),
                  "samples_per_second": round(self.samples / seconds, 2),
                  "wall_seconds_this_session": round(time.perf_counter() - started, 2)}
        return {"timing": timing, "peak_memory_mb": round(self.peak_memory_mb, 1),
                **({} if self.peak_rss_mb is None else {"peak_rss_mb": round(self.peak_rss_mb, 1)}),
                **({} if self.adversarial is None else {"adversarial": self.adversarial})}
