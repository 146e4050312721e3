"""Dropout masks drawn fast on CPU, and the tensor helpers of the dropout speed-up.

PyTorch's CPU dropout draws its mask with ``bernoulli_``, which runs in parallel through MKL only on
Intel processors; elsewhere it is one serial Mersenne-Twister loop, and a MiniLM training step draws
19 masks. :func:`keep_mask` draws from numpy's PCG64 instead, one random byte per value, and the
values whose byte lands exactly on the threshold draw once more, so each value is dropped with
probability ``p`` exactly, as in PyTorch. The random stream differs from PyTorch's; it stays a
function of torch's generator (see :func:`keep_mask`), so ``torch.manual_seed`` fixes the masks and a
resumed run (accelerate restores torch's generator) draws the masks an uninterrupted run draws.
Evidence: benchmarks/results/dropout_probe.txt.
"""

from __future__ import annotations

import functools
import math
import weakref
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np
import torch
from torch import nn

__all__ = ["keep_mask", "one_stream", "stream_per_forward_pass", "masked", "additive_mask", "tokens_first"]

_LEVELS = 1 << 8  # a mask value is one random byte


def keep_mask(shape: torch.Size | tuple[int, ...], p: float) -> torch.Tensor:
    """A uint8 tensor of ``shape``: 0 where a value is dropped (probability ``p``, independently), 1 where kept.

    Each value gets one random byte and is dropped when that byte is below ``floor(256 p)``; a byte
    equal to it (one value in 256) is dropped with probability ``frac(256 p)``, drawn again, so the
    total is ``p`` exactly. uint8, not bool: multiplying by it is faster here than ``masked_fill``.
    The bytes come from a PCG64 seeded by one draw from torch's generator, a new one for each mask,
    or the one of the enclosing :func:`one_stream`.
    """
    bits, generator = _stream.draw() if _stream is not None else _seeded()
    n = math.prod(shape)
    draws = bits.random_raw(-(-n // 8)).view(np.uint8)[:n]  # eight bytes a draw, all used
    threshold = p * _LEVELS
    whole = int(threshold)
    kept = draws >= whole
    if threshold > whole:
        edge = np.flatnonzero(draws == whole)
        kept[edge] = generator.random(len(edge)) >= threshold - whole
    return torch.from_numpy(kept.view(np.uint8)).view(shape)


def _seeded() -> tuple[np.random.PCG64, np.random.Generator]:
    seed = int(torch.randint(0, 2**62, (1,)).item())  # torch's generator decides, and resumes
    bits = np.random.PCG64(seed)
    return bits, np.random.Generator(bits)


class _Stream:
    """One PCG64 for a run of masks, seeded from torch's generator when the first mask is drawn."""

    def __init__(self) -> None:
        self.started: tuple[np.random.PCG64, np.random.Generator] | None = None

    def draw(self) -> tuple[np.random.PCG64, np.random.Generator]:
        if self.started is None:
            self.started = _seeded()
        return self.started


_stream: _Stream | None = None  # the open one_stream(), if any


@contextmanager
def one_stream() -> Iterator[None]:
    """Within, every mask continues one PCG64, seeded by one draw from torch's generator at the first mask.

    Seeding a PCG64 and its torch draw cost little alone, but between matrix products that evict
    the caches they are a large share of a mask's time, paid once per dropout layer; one seeding a
    forward pass pays it once (the speed-up as shipped: benchmarks/results/speedups_ab.txt;
    guarded by tests/unit/test_speedups.py and test_cpu_dropout.py). The masks stay a function
    of torch's generator: a forward pass that starts from the same generator state draws the same
    masks. A block that draws no mask takes nothing from torch's generator.
    """
    global _stream
    previous, _stream = _stream, _Stream()
    try:
        yield
    finally:
        _stream = previous


def stream_per_forward_pass(model: nn.Module) -> Callable[[], None]:
    """Every forward pass of ``model`` draws its masks as within :func:`one_stream`; returns what undoes it.

    Forward hooks (PyTorch's public ``register_forward_pre_hook`` / ``register_forward_hook``) open
    the stream when the pass starts and close it when the pass ends, also when it fails.
    """
    enclosing: list[_Stream | None] = []

    def open_stream(module: nn.Module, args: Any) -> None:
        global _stream
        enclosing.append(_stream)
        _stream = _Stream()

    def close_stream(module: nn.Module, args: Any, output: Any) -> None:
        global _stream
        _stream = enclosing.pop()

    handles = [model.register_forward_pre_hook(open_stream),
               model.register_forward_hook(close_stream, always_call=True)]

    def remove() -> None:
        for handle in handles:
            handle.remove()

    return remove


def masked(x: torch.Tensor, kept: torch.Tensor, scale: float, dtype: torch.dtype | None = None) -> torch.Tensor:
    """``x * scale`` where ``kept`` is 1, 0 where it is 0, in one pass: 0 + scale * x * kept.

    The same values as ``(x * kept) * scale`` (x times 0 or 1 is exact, then one rounding of
    x * scale, computed in fp32 for bf16 x) in one pass instead of two; with ``dtype``, written
    straight into a new tensor of that dtype (the cast in the same pass).
    """
    out = torch.empty(x.shape, dtype=dtype) if dtype is not None and dtype != x.dtype else None
    return torch.addcmul(_zero(x.dtype), x, kept, value=scale, out=out)


@functools.cache
def _zero(dtype: torch.dtype) -> torch.Tensor:
    return torch.zeros((), dtype=dtype)


def tokens_first(x: torch.Tensor, batch: int, dtype: torch.dtype) -> torch.Tensor:
    """[batch * heads, length, size] as a new ``dtype`` tensor [batch, length, heads, size], contiguous."""
    heads_total, length, size = x.shape
    shaped = x.view(batch, heads_total // batch, length, size).transpose(1, 2)
    return torch.empty(shaped.shape, dtype=dtype).copy_(shaped)


_last_mask: tuple[Any, int, torch.Tensor] | None = None  # a bool mask (weakly), its version, its additive form


def additive_mask(mask: torch.Tensor) -> torch.Tensor:
    """A bool mask (True: attend) as 0 / float32 min, to add to the scores (SDPA's math path adds one too).

    Every layer of a forward pass gets the same mask tensor, so the conversion is done once per
    pass. Adding is faster here than ``masked_fill`` with the bool mask, with the same probabilities:
    any score below 1e31 plus float32 min rounds to float32 min, which softmax turns into exactly 0,
    so those positions get no gradient either.
    """
    global _last_mask
    if mask.dtype != torch.bool:
        return mask
    if _last_mask is not None and _last_mask[0]() is mask and _last_mask[1] == mask._version:
        return _last_mask[2]
    additive = torch.zeros(mask.shape, dtype=torch.float32, device=mask.device)
    additive.masked_fill_(~mask, torch.finfo(torch.float32).min)
    _last_mask = (weakref.ref(mask), mask._version, additive)
    return additive
