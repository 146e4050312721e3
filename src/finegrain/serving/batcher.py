"""Micro-batching: texts from concurrent requests are gathered into one forward pass.

A request puts one item per text on an asyncio queue and awaits their futures. One loop takes
the first waiting item, then keeps taking items until ``max_batch`` texts are gathered or
``max_wait_ms`` has passed since the first, runs the model on them in a worker thread (the event
loop keeps accepting requests meanwhile) and resolves the futures. A batch that fails is retried
text by text, so one bad text fails only its own request; the loop itself never dies. ``stop``
refuses new work and finishes every text already queued.

Example:
    >>> batcher = MicroBatcher(predictor.predict, max_batch=32, max_wait_ms=5)  # doctest: +SKIP
    >>> await batcher.start(); await batcher.submit(["great film", "awful"])  # doctest: +SKIP
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

__all__ = ["MicroBatcher", "ShuttingDown"]

Predict = Callable[[list[str]], list[dict[str, Any]]]


class ShuttingDown(RuntimeError):
    """The batcher is stopping and takes no new texts."""


@dataclass
class _Item:
    text: str
    future: asyncio.Future


_STOP = object()  # queued by stop(): everything before it is still served


class MicroBatcher:
    """Gathers texts into batches of at most ``max_batch``, waiting at most ``max_wait_ms`` for more."""

    def __init__(self, predict: Predict, *, max_batch: int, max_wait_ms: float,
                 on_batch: Callable[[int, float], None] | None = None):
        self.predict, self.max_batch, self.max_wait = predict, max_batch, max_wait_ms / 1000
        self.on_batch = on_batch  # (texts in the batch, seconds the model took), for metrics
        self._queue: asyncio.Queue | None = None
        self._task: asyncio.Task | None = None
        self._executor: ThreadPoolExecutor | None = None
        self._closing = False

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done() and not self._closing

    def queued(self) -> int:
        return self._queue.qsize() if self._queue is not None else 0

    async def start(self) -> None:
        self._queue = asyncio.Queue()
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="finegrain-model")
        self._closing = False
        self._task = asyncio.create_task(self._loop(), name="finegrain-batcher")

    async def stop(self) -> None:
        """Take no new texts; finish the queued ones, then stop the loop and the worker thread."""
        if self._task is None:
            return
        self._closing = True
        self._queue.put_nowait(_STOP)
        await self._task
        self._executor.shutdown(wait=True)
        self._task = None

    async def submit(self, texts: list[str]) -> list[dict[str, Any]]:
        """Predictions for ``texts`` in order; raises the error of a text that failed."""
        if not self.running:
            raise ShuttingDown("the server is shutting down and takes no new requests")
        loop = asyncio.get_running_loop()
        futures = [loop.create_future() for _ in texts]
        for text, future in zip(texts, futures):
            self._queue.put_nowait(_Item(text, future))
        return list(await asyncio.gather(*futures))

    async def run_alone(self, work: Callable[[], Any]) -> Any:
        """``work()`` on the model's thread, between batches: nothing else runs the model meanwhile (an explainer
        hooks into its layers while it runs)."""
        if not self.running:
            raise ShuttingDown("the server is shutting down and takes no new requests")
        return await asyncio.get_running_loop().run_in_executor(self._executor, work)

    async def _loop(self) -> None:
        stopping = False
        while not stopping:
            first = await self._queue.get()
            if first is _STOP:
                break
            batch, stopping = await self._gather(first)
            await self._run(batch)

    async def _gather(self, first: _Item) -> tuple[list[_Item], bool]:
        """``first`` plus whatever arrives before the batch is full or the wait is over."""
        loop = asyncio.get_running_loop()
        batch, deadline = [first], loop.time() + self.max_wait
        while len(batch) < self.max_batch:
            try:
                item = self._queue.get_nowait()
            except asyncio.QueueEmpty:
                remaining = deadline - loop.time()
                if remaining <= 0:
                    break
                try:
                    item = await asyncio.wait_for(self._queue.get(), remaining)
                except TimeoutError:
                    break
            if item is _STOP:
                return batch, True
            batch.append(item)
        return batch, False

    async def _run(self, batch: list[_Item]) -> None:
        loop = asyncio.get_running_loop()
        started = time.perf_counter()
        results = await loop.run_in_executor(self._executor, self._predict_each, [item.text for item in batch])
        if self.on_batch is not None:
            self.on_batch(len(batch), time.perf_counter() - started)
        for item, result in zip(batch, results):
            if item.future.done():  # the client went away (its request was cancelled)
                continue
            if isinstance(result, BaseException):
                item.future.set_exception(result)
            else:
                item.future.set_result(result)

    def _predict_each(self, texts: list[str]) -> list[Any]:
        """The batch's predictions; if the batch fails, each text alone, keeping its own error."""
        try:
            return self.predict(texts)
        except Exception as error:
            if len(texts) == 1:
                return [error]
        results: list[Any] = []
        for text in texts:
            try:
                results.extend(self.predict([text]))
            except Exception as error:  # reported to that request alone
                results.append(error)
        return results
