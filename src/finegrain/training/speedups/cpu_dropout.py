"""Dropout for CPU training with the fast masks of :mod:`.masks`: the same Bernoulli masks, another generator.

:func:`cpu_dropout` puts :class:`CpuDropout` in place of every ``nn.Dropout`` of a model and, where
the model uses PyTorch's SDPA attention, routes attention through :func:`attention`, which does the
math SDPA does on CPU when it drops attention probabilities (fp32, the same order of operations)
with those masks, as one autograd node with its backward pass written out. The attention function
is registered under its own name with transformers' public ``AttentionInterface`` and
``AttentionMaskInterface`` and selected with the public ``set_attn_implementation``. ``restore()``
puts everything back. Off the CPU, outside training, or with ``p`` of 0 everything is PyTorch's own.
Evidence: benchmarks/results/dropout_probe.txt, attention_probe.txt, cpu_dropout_ab.txt.

Example:
    >>> swapped = cpu_dropout(model)  # doctest: +SKIP
    >>> ...  # train
    >>> swapped.restore()  # doctest: +SKIP
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from finegrain.training.speedups.base import Applied, Setup
from finegrain.training.speedups.masks import additive_mask, keep_mask, masked, tokens_first

__all__ = ["ATTENTION", "CpuDropout", "attention", "cpu_dropout", "dropout", "apply"]

ATTENTION = "finegrain_sdpa"  # the attention implementation's registered name


class _Dropout(torch.autograd.Function):
    """``x / (1 - p)`` where kept, 0 where dropped; the backward pass applies the same mask."""

    @staticmethod
    def forward(ctx: Any, x: torch.Tensor, p: float) -> torch.Tensor:
        kept = keep_mask(x.shape, p)
        ctx.save_for_backward(kept)  # one byte a value, as PyTorch's own dropout keeps
        ctx.scale = 1.0 / (1.0 - p)
        return masked(x, kept, ctx.scale)

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> tuple[torch.Tensor, None]:
        (kept,) = ctx.saved_tensors
        return masked(grad, kept, ctx.scale), None


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
    mask = additive_mask(attention_mask) if attention_mask is not None else None
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
        dropped = masked(probabilities, kept, scale)
        out = torch.bmm(dropped, v)
        ctx.save_for_backward(q, k, v, probabilities, kept, dropped)
        ctx.root, ctx.scale, ctx.dtypes = root, scale, (query.dtype, key.dtype, value.dtype)
        return tokens_first(out, batch, query.dtype)

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
            grad_v = tokens_first(torch.bmm(dropped.transpose(1, 2), grad),
                                   batch, ctx.dtypes[2]).transpose(1, 2)
        if want_q or want_k:
            grad_probabilities = masked(torch.bmm(grad, v.transpose(1, 2)), kept, ctx.scale)
            grad_scores = torch._softmax_backward_data(grad_probabilities, probabilities, -1, probabilities.dtype)
            if want_q:
                grad_q = tokens_first(torch.bmm(grad_scores, k).mul_(ctx.root), batch, ctx.dtypes[0]).transpose(1, 2)
            if want_k:
                grad_k = tokens_first(torch.bmm(grad_scores.transpose(1, 2), q).mul_(ctx.root),
                                       batch, ctx.dtypes[1]).transpose(1, 2)
        return grad_q, grad_k, grad_v, None, None, None


def _heads_first(x: torch.Tensor) -> torch.Tensor:
    """[batch, heads, length, size] (any strides, any float dtype) as a new fp32 [batch * heads, length, size]."""
    batch, heads, length, size = x.shape
    return torch.empty((batch, heads, length, size), dtype=torch.float32).copy_(x).view(batch * heads, length, size)


def _register() -> None:
    from transformers import AttentionInterface, AttentionMaskInterface
    from transformers.masking_utils import sdpa_mask

    AttentionInterface.register(ATTENTION, attention)
    # the mask is built as for SDPA: without this, transformers builds none for an unknown name
    AttentionMaskInterface.register(ATTENTION, sdpa_mask)


def _sdpa_models(model: nn.Module) -> list[Any]:
    """The outermost transformers models in ``model`` that attend with SDPA (``set_attn_implementation``
    reaches their submodels)."""
    from transformers import PreTrainedModel

    found, seen = [], set()
    for module in model.modules():
        if isinstance(module, PreTrainedModel) and id(module.config) not in seen:
            seen.update(id(m.config) for m in module.modules() if isinstance(m, PreTrainedModel))
            if module.config._attn_implementation == "sdpa":  # read only: transformers has no public getter
                found.append(module)
    return found


@dataclass
class Swapped:
    """What :func:`cpu_dropout` changed, to put back."""

    modules: list[tuple[nn.Module, str, nn.Dropout]] = field(default_factory=list)
    models: list[Any] = field(default_factory=list)  # transformers models switched to ATTENTION

    def restore(self) -> None:
        for parent, name, original in self.modules:
            setattr(parent, name, original)
        for model in self.models:
            model.set_attn_implementation("sdpa")
        self.modules, self.models = [], []


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
    models = _sdpa_models(model)
    if models:
        _register()
        for transformer in models:
            transformer.set_attn_implementation(ATTENTION)
            swapped.models.append(transformer)
    return swapped


def apply(model: nn.Module, setup: Setup) -> Applied | None:
    """The speed-up's entry: CPU training with the switch on."""
    if not setup.cpu:
        return None
    return Applied(restore=cpu_dropout(model).restore, draws_masks=True)
