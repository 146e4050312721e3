"""Service metrics in the Prometheus text format (0.0.4), kept in-process without a client library.

Updated from the event loop only (requests, batches), so no locks are needed.
"""

from __future__ import annotations

import bisect
from collections import Counter
from collections.abc import Callable, Sequence

__all__ = ["Histogram", "ServiceMetrics", "CONTENT_TYPE"]

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


class Histogram:
    """Cumulative-bucket histogram as Prometheus exposes it (``_bucket{le=...}``, ``_sum``, ``_count``)."""

    def __init__(self, name: str, help_text: str, buckets: Sequence[float]):
        self.name, self.help_text, self.buckets = name, help_text, list(buckets)
        self.counts = [0] * (len(self.buckets) + 1)  # the last one is +Inf
        self.sum, self.count = 0.0, 0

    def observe(self, value: float) -> None:
        self.counts[bisect.bisect_left(self.buckets, value)] += 1
        self.sum += value
        self.count += 1

    def lines(self) -> list[str]:
        out = [f"# HELP {self.name} {self.help_text}", f"# TYPE {self.name} histogram"]
        cumulative = 0
        for bound, count in zip([*map(_number, self.buckets), "+Inf"], self.counts):
            cumulative += count
            out.append(f'{self.name}_bucket{{le="{bound}"}} {cumulative}')
        return out + [f"{self.name}_sum {_number(self.sum)}", f"{self.name}_count {self.count}"]


class ServiceMetrics:
    """Request counts by path and status, request latency, batch sizes and model time, queue depth."""

    def __init__(self, queued: Callable[[], int] = lambda: 0):
        self.requests: Counter[tuple[str, str, int]] = Counter()
        self.texts = 0
        self.queued = queued
        self.latency = Histogram("finegrain_request_latency_seconds", "Time from request to response, /v1/predict.",
                                 (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0))
        self.batch_size = Histogram("finegrain_batch_size", "Texts per model call (micro-batches).",
                                    (1, 2, 4, 8, 16, 32, 64, 128, 256))
        self.batch_seconds = Histogram("finegrain_batch_seconds", "Model time per micro-batch.",
                                       (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0))

    def request(self, method: str, path: str, status: int, seconds: float) -> None:
        self.requests[(method, path, status)] += 1
        if path == "/v1/predict":
            self.latency.observe(seconds)

    def batch(self, size: int, seconds: float) -> None:
        self.texts += size
        self.batch_size.observe(size)
        self.batch_seconds.observe(seconds)

    def render(self) -> str:
        lines = ["# HELP finegrain_requests_total HTTP requests by method, path and status.",
                 "# TYPE finegrain_requests_total counter"]
        for (method, path, status), count in sorted(self.requests.items()):
            lines.append(f'finegrain_requests_total{{method="{method}",path="{_escape(path)}",status="{status}"}}'
                         f" {count}")
        lines += ["# HELP finegrain_texts_total Texts predicted.", "# TYPE finegrain_texts_total counter",
                  f"finegrain_texts_total {self.texts}",
                  "# HELP finegrain_queue_depth Texts waiting for a batch.", "# TYPE finegrain_queue_depth gauge",
                  f"finegrain_queue_depth {self.queued()}"]
        for histogram in (self.latency, self.batch_size, self.batch_seconds):
            lines += histogram.lines()
        return "\n".join(lines) + "\n"


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def _escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
