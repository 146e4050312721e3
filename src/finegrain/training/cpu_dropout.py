"""Dropout for CPU training that draws its masks fast: the same Bernoulli masks, another generator.

PyTorch's CPU dropout draws its mask with ``bernoulli_``, which runs in parallel through MKL only
on Intel processors; elsewhere it is one serial Mersenne-Twister loop. On this project's AMD EPYC
that is 1.3 ms for the 209k values of one 16 x 34 x 384 batch, and a MiniLM training step draws 19
such masks (every hidden and attention-probability dropout). Here the mask comes from numpy's PCG64
instead, one random byte per value, and the values whose byte lands exactly on the threshold draw once
more, so each value is dropped with probability ``p`` exactly, as in PyTorch. The mask is a uint8 0/1
tensor multiplied in: PyTorch's ops on bool masks (``masked_fill``, conversion) took ~250 us a call
here against ~40 us for the multiply. Each mask's PCG64 (or, within :func:`one_stream`, as the
training loop runs each forward pass, each pass's) is seeded by one draw from torch's default
generator, so ``torch.manual_seed`` fixes the masks and a resumed run (accelerate restores torch's
generator) draws the masks an uninterrupted run draws. The random stream differs from PyTorch's.
Measured here: one hidden-state dropout 2.0 -> 0.48 ms, a training-mode forward pass 95.9 -> 74.2 ms,
forward + backward 1.06x (benchmarks/results/dropout_probe.txt).

:func:`cpu_dropout` puts :class:`CpuDropout` in place of every ``nn.Dropout`` of a model and, where
the model uses PyTorch's SDPA attention, routes attention through :func:`attention`, which does the
math SDPA does on CPU when it drops attention probabilities (fp32, the same order of operations)
with this mask, as one autograd node with its backward pass written out (forward + backward of
one layer's attention, 16 x 31 tokens, 12 heads: 0.91-0.92x the time of autograd's graph for the
same math, with the same output; benchmarks/results/attention_probe.txt). ``restore()`` puts
everything back. Off the CPU, outside training, or with ``p`` of 0 everything is PyTorch's own.

Example:
    >>> swapped = cpu_dropout(model)  # doctest: +SKIP
    >>> ...  # train
    >>> swapped.restore()  # doctest: +SKIP
"""

from __future__ import annotations

import functools
import math
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import nn

__all__ = ["ATTENTION", "CpuDropout", "attention", "cpu_dropout", "dropout", "keep_mask", "one_stream"]

ATTENTION = "finegrain_sdpa"  # the attention implementation's registered name
_LEVELS = 1 << 8  # a mask value is one random byte


def keep_mask(shape: torch.Size | tuple[int, ...], p: float) -> torch.Tensor:
    """A uint8 tensor of ``shape``: 0 where a value is dropped (probability ``p``, independently), 1 where kept.

    Each value gets one random byte and is dropped when that byte is below ``floor(256 p)``; a byte
    equal to it (one value in 256) is dropped with probability ``frac(256 p)``, drawn again, so the
    total is ``p`` exactly. uint8, not bool: multiplying by it is 5x faster here than ``masked_fill``.
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

    The training loop wraps each forward pass in it: seeding a PCG64 costs little on its own
    (8 us), but during training, between matrix products that evict the caches, seeding and
    its torch draw took 160 of the 340 us a mask cost, 19-20 times a step. The masks stay a
    function of torch's generator: a forward pass that starts from the same generator state
    draws the same masks, so ``torch.manual_seed`` fixes them and a resumed run draws the masks
    an uninterrupted run draws.
    """
    global _stream
    previous, _stream = _stream, _Stream()
    try:
        yield
    finally:
        _stream = previous


class _Dropout(torch.autograd.Function):
    """``x / (1 - p)`` where kept, 0 where dropped; the backward pass applies the same mask."""

    @staticmethod
    def forward(ctx: Any, x: torch.Tensor, p: float) -> torch.Tensor:
        kept = keep_mask(x.shape, p)
        ctx.save_for_backward(kept)  # one byte a value, as PyTorch's own dropout keeps
        ctx.scale = 1.0 / (1.0 - p)
        return _masked(x, kept, ctx.scale)

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> tuple[torch.Tensor, None]:
        (kept,) = ctx.saved_tensors
        return _masked(grad, kept, ctx.scale), None


def _masked(x: torch.Tensor, kept: torch.Tensor, scale: float, dtype: torch.dtype | None = None) -> torch.Tensor:
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


def dropout(x: torch.Tensor, p: float, training: bool = True) -> torch.Tensor:
    """``torch.nn.functional.dropout`` with the mask drawn by :func:`keep_mask` when that applies."""
    if not training or p <= 0.0 or p >= 1.0 or x.device.type != "cpu":
        return nn.functional.dropout(x, p, training)
    return _Dropout.apply(x, p)


class CpuDropout(nn.Dropout):
    """``nn.Dropout`` (same ``p``, same place in the model) whose CPU masks come from :func:`keep_mask`."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = dropout(x, self.p, self.training)
        return x.copy_(out) if self.inplace and out is not x else out


def attention(module: nn.Module, query: torch.Tensor, key: torch.Tensor, value: torch.Tensor,
              attention_mask: torch.Tensor | None, dropout: float = 0.0, scaling: float | None = None,
              is_causal: bool | None = None, **kwargs: Any) -> tuple[torch.Tensor, None]:
    """transformers' SDPA attention, except when it would drop attention probabilities on CPU.

    There, SDPA runs its math path: q, k, v in fp32, each of q and k times sqrt(scale), softmax,
    dropout, times v, back to the input dtype. This does the same with :func:`keep_mask`'s mask.
    Anything else (no dropout, GPU, causal, grouped heads, a position bias, a cache, a softcap,
    attention sinks, attention weights asked for) is SDPA's.
    """
    from transformers.integrations.sdpa_attention import sdpa_attention_forward

    unusual = any(kwargs.get(name) is not None for name in ("position_bias", "cache", "softcap", "s_aux"))
    plain = (dropout <= 0.0 or query.device.type != "cpu" or is_causal or unusual or kwargs.get("output_attentions")
             or getattr(module, "num_key_value_groups", 1) > 1)
    if plain:
        return sdpa_attention_forward(module, query, key, value, attention_mask, dropout=dropout, scaling=scaling,
                                      is_causal=is_causal, **kwargs)
    scaling = scaling if scaling is not None else 1.0 / math.sqrt(query.shape[-1])
    mask = _additive(attention_mask) if attention_mask is not None else None
    return _Attention.apply(query, key, value, mask, dropout, scaling), None


class _Attention(torch.autograd.Function):
    """SDPA's CPU math path with dropout, as one autograd node: the same arithmetic in the same order.

    Forward: q and k in fp32, each times sqrt(scale); scores = q k^T, plus the additive mask;
    softmax; dropout; times v in fp32; back to the input dtype. The backward pass is what autograd
    derives for those operations, written out. As one node it casts and lays out each tensor once
    (the result comes out as [batch, length, heads, head_dim], which transformers wants next, and
    the gradients in the layout of q, k and v) and works in place where autograd cannot. It keeps
    what autograd keeps for these operations.
    """

    @staticmethod
    def forward(ctx: Any, query: torch.Tensor, key: torch.Tensor, value: torch.Tensor, mask: torch.Tensor | None,
                p: float, scaling: float) -> torch.Tensor:
        with torch.autocast(query.device.type, enabled=False):  # fp32 products, as SDPA's math path
            return _Attention._forward(ctx, query, key, value, mask, p, scaling)

    @staticmethod
    def _forward(ctx: Any, query: torch.Tensor, key: torch.Tensor, value: torch.Tensor, mask: torch.Tensor | None,
                 p: float, scaling: float) -> torch.Tensor:
        batch, heads, length, size = query.shape
        root = math.sqrt(scaling)
        q = _heads_first(query).mul_(root)
        k = _heads_first(key).mul_(root)
        v = _heads_first(value)
        scores = torch.bmm(q, k.transpose(1, 2))
        if mask is not None:
            scores.view(batch, heads, length, -1).add_(mask)
        probabilities = torch.softmax(scores, -1)
        kept = keep_mask((batch, heads, length, scores.shape[-1]), p).view(scores.shape)
        scale = 1.0 / (1.0 - p)
        dropped = _masked(probabilities, kept, scale)
        out = torch.bmm(dropped, v)
        ctx.save_for_backward(q, k, v, probabilities, kept, dropped)
        ctx.root, ctx.scale, ctx.dtypes = root, scale, (query.dtype, key.dtype, value.dtype)
        return _tokens_first(out, batch, query.dtype)

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> tuple[torch.Tensor | None, ...]:
        with torch.autocast(grad.device.type, enabled=False):
            return _Attention._backward(ctx, grad)

    @staticmethod
    def _backward(ctx: Any, grad: torch.Tensor) -> tuple[torch.Tensor | None, ...]:
        q, k, v, probabilities, kept, dropped = ctx.saved_tensors
        batch = grad.shape[0]
        want_q, want_k, want_v = ctx.needs_input_grad[:3]
        grad = _heads_first(grad.transpose(1, 2))
        grad_q = grad_k = grad_v = None
        if want_v:
            grad_v = _tokens_first(torch.bmm(dropped.transpose(1, 2), grad),
                                   batch, ctx.dtypes[2]).transpose(1, 2)
        if want_q or want_k:
            grad_probabilities = _masked(torch.bmm(grad, v.transpose(1, 2)), kept, ctx.scale)
            grad_scores = torch._softmax_backward_data(grad_probabilities, probabilities, -1, probabilities.dtype)
            if want_q:
                grad_q = _tokens_first(torch.bmm(grad_scores, k).mul_(ctx.root), batch, ctx.dtypes[0]).transpose(1, 2)
            if want_k:
                grad_k = _tokens_first(torch.bmm(grad_scores.transpose(1, 2), q).mul_(ctx.root),
                                       batch, ctx.dtypes[1]).transpose(1, 2)
        return grad_q, grad_k, grad_v, None, None, None


def _heads_first(x: torch.Tensor) -> torch.Tensor:
    """[batch, heads, length, size] (any strides, any float dtype) as a new fp32 [batch * heads, length, size]."""
    batch, heads, length, size = x.shape
    return torch.empty((batch, heads, length, size), dtype=torch.float32).copy_(x).view(batch * heads, length, size)


def _tokens_first(x: torch.Tensor, batch: int, dtype: torch.dtype) -> torch.Tensor:
    """[batch * heads, length, size] as a new ``dtype`` tensor [batch, length, heads, size], contiguous."""
    heads_total, length, size = x.shape
    shaped = x.view(batch, heads_total // batch, length, size).transpose(1, 2)
    return torch.empty(shaped.shape, dtype=dtype).copy_(shaped)


_last_mask: tuple[Any, int, torch.Tensor] | None = None  # a bool mask (weakly), its version, its additive form


def _additive(mask: torch.Tensor) -> torch.Tensor:
    """A bool mask (True: attend) as 0 / float32 min, to add to the scores (SDPA's math path adds one too).

    Every layer of a forward pass gets the same mask tensor, so the conversion is done once per
    pass. Adding took 119 us here against 652 for ``masked_fill`` with the bool mask (forward +
    backward, 16 x 12 x 34 x 34), with the same probabilities: any score below 1e31 plus float32 min
    rounds to float32 min, which softmax turns into exactly 0, so those positions get no gradient either.
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


def _register() -> None:
    from transformers import AttentionInterface
    from transformers.masking_utils import ALL_MASK_ATTENTION_FUNCTIONS, sdpa_mask

    AttentionInterface.register(ATTENTION, attention)
    # the mask is built as for SDPA: without this, transformers builds none for an unknown name
    ALL_MASK_ATTENTION_FUNCTIONS.register(ATTENTION, sdpa_mask)


@dataclass
class Swapped:
    """What :func:`cpu_dropout` changed, to put back."""

    modules: list[tuple[nn.Module, str, nn.Dropout]] = field(default_factory=list)
    configs: list[Any] = field(default_factory=list)

    def restore(self) -> None:
        for parent, name, original in self.modules:
            setattr(parent, name, original)
        for config in self.configs:
            config._attn_implementation = "sdpa"
        self.modules, self.configs = [], []


def cpu_dropout(model: nn.Module) -> Swapped:
    """Put :class:`CpuDropout` in place of every ``nn.Dropout`` of ``model`` and route its SDPA
    attention through :func:`attention`. Parameters and the state dict are unchanged."""
    swapped = Swapped()
    for parent in list(model.modules()):
        for name, child in list(parent.named_children()):
            if type(child) is nn.Dropout:
                replacement = CpuDropout(child.p, child.inplace)
                replacement.train(child.training)
                setattr(parent, name, replacement)
                swapped.modules.append((parent, name, child))
    configs = {id(m.config): m.config for m in model.modules()
               if getattr(getattr(m, "config", None), "_attn_implementation", None) == "sdpa"}
    if configs:
        _register()
        for config in configs.values():
            config._attn_implementation = ATTENTION
            swapped.configs.append(config)
    return swapped
