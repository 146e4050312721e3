"""Service metrics in the Prometheus text format (0.0.4), kept by prometheus_client.

One server process: the metrics live in a registry of this app's own (not the library's global one, so
that several apps in one process, as in the tests, do not collide). ``finegrain serve --workers N``
starts its workers with ``PROMETHEUS_MULTIPROC_DIR`` set to a fresh folder, and prometheus_client (which
reads that variable when it is imported) keeps each worker's values in files there; /metrics, whichever
worker answers it, sums those files: counters and histograms over every worker that ever ran, the
queue depth over the live ones.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4
from prometheus_client.multiprocess import MultiProcessCollector, mark_process_dead

__all__ = ["ServiceMetrics", "CONTENT_TYPE"]

CONTENT_TYPE = CONTENT_TYPE_PLAIN_0_0_4  # what generate_latest writes (prometheus_client's LATEST is 1.0.0)


class ServiceMetrics:
    """Request counts by method, path and status, request latency, batch sizes and model time, queue depth.

    ``folder``: the PROMETHEUS_MULTIPROC_DIR shared by the workers of one server, or None for one process.
    """

    def __init__(self, queued: Callable[[], int] = lambda: 0, folder: str | None = None):
        self.queued, self.folder = queued, folder
        self.registry = CollectorRegistry()  # what /metrics renders
        if folder is not None:
            MultiProcessCollector(self.registry, path=folder)
        own = None if folder is not None else self.registry  # with workers, the files are the registry
        self.requests = Counter("finegrain_requests_total", "HTTP requests by method, path and status.",
                                ("method", "path", "status"), registry=own)
        self.texts = Counter("finegrain_texts_total", "Texts predicted.", registry=own)
        self.queue_depth = Gauge("finegrain_queue_depth", "Texts waiting for a batch.", registry=own,
                                 multiprocess_mode="livesum")  # summed over the workers alive now
        self.latency = Histogram("finegrain_request_latency_seconds", "Time from request to response, /v1/predict.",
                                 buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0), registry=own)
        self.batch_size = Histogram("finegrain_batch_size", "Texts per model call (micro-batches).",
                                    buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256), registry=own)
        self.batch_seconds = Histogram("finegrain_batch_seconds", "Model time per micro-batch.",
                                       buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0), registry=own)

    def request(self, method: str, path: str, status: int, seconds: float) -> None:
        self.requests.labels(method, path, str(status)).inc()
        if path == "/v1/predict":
            self.latency.observe(seconds)
        # a worker's gauge is read from its file by whichever worker is scraped: kept current at each event
        self.queue_depth.set(self.queued())

    def batch(self, size: int, seconds: float) -> None:
        self.texts.inc(size)
        self.batch_size.observe(size)
        self.batch_seconds.observe(seconds)
        self.queue_depth.set(self.queued())

    def render(self) -> bytes:
        self.queue_depth.set(self.queued())
        if self.folder is not None:
            forget_dead_workers(self.folder)
        return generate_latest(self.registry)


def forget_dead_workers(folder: str) -> None:
    """Drop the live gauges of workers that are gone (uvicorn replaces a worker that dies), which would
    otherwise be summed forever. prometheus_client's docs do this in gunicorn's ``child_exit`` hook;
    uvicorn has no such hook, so each scrape looks."""
    for path in Path(folder).glob("gauge_live*_*.db"):
        pid = int(path.stem.rsplit("_", 1)[1])
        if not _alive(pid):
            mark_process_dead(pid, folder)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)  # signal 0: only asks whether the process exists
    except OSError:  # gone, or reused by a process we may not signal: not one of our workers
        return False
    return True
