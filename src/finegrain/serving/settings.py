"""What ``finegrain serve`` can be told: batching and request limits, one place for their defaults.

Kept apart from the app so that the command line reads its defaults without importing fastapi.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["ServeSettings"]


@dataclass(frozen=True)
class ServeSettings:
    # texts per model call: beyond this a CPU gains little and latency grows (benchmarks/batch_scaling.py)
    max_batch: int = 32
    max_wait_ms: float = 5.0  # how long the first text of a batch waits for company
    # texts per forward pass: a micro-batch runs length-sorted in chunks of this size, so that each pads
    # little: cheaper per text than one forward of 32 on CPU (benchmarks/inference_speed.py)
    forward_batch: int = 16
    api_key: str | None = None  # required in X-API-Key (or Authorization: Bearer) when set
    max_texts: int = 64  # per request
    max_chars: int = 5000  # per text; a model reads at most max_length tokens anyway

    def max_body_bytes(self) -> int:
        return self.max_texts * (self.max_chars * 4 + 16) + 4096  # UTF-8 is at most 4 bytes a character
