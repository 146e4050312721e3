"""A BERT-style encoder layer for CPU training as one autograd node, with its backward pass written out.

On a 2-core CPU the main thread, dispatching ops, casting weights and allocating buffers, kept the
second core waiting. Under autocast a layer casts its input three times (once each for q, k and v),
casts every weight, bias and weight gradient separately, runs dropout and the residual sum as two ops
each way, and (SDPA's CPU math path) runs attention's products in fp32. Here a layer (attention, the
two dropouts with their residual sums, the layer norms, the feed-forward) is one node with about a
third fewer ops:

* q, k and v come from one product with the three weights side by side: one cast of the input,
  one product each for the forward pass, the input gradient and the weight gradient, one bias sum;
* attention is what transformers' eager attention does under autocast: products in the compute
  dtype (bf16), scores and softmax in fp32, the masks from :func:`~.masks.keep_mask`;
* dropout and the residual sum are one ``addcmul`` (``residual + scale * kept * x`` in fp32, where
  autocast first rounds the dropped-out values to bf16);
* bias gradients are what autocast gives (summed with fp32 accumulation into bf16, then fp32).

Products run in the autocast dtype as under autocast; layer norms, residual sums and the hidden
states between layers stay fp32, as under autocast. Masks are drawn in the order the stock layer
with :mod:`.cpu_dropout` draws them (attention, attention output, feed-forward output), so within
:func:`~.masks.one_stream` both use the same masks. Gradients are as close to fp32's as the stock
layer's under autocast. Evidence: benchmarks/results/cpu_layer_probe.txt.

:func:`fuse_layers` puts this forward pass on every layer of a model with BERT's structure (plain
``nn.Linear`` and ``nn.LayerNorm`` modules, exact GELU, no cross-attention, no chunked feed-forward)
and gives back what to restore. A layer falls back to its own forward pass outside training, off
the CPU, without dropout, or when attention weights or a cache are asked for. Adapters that wrap
the linear modules (LoRA, IA3, ...) keep the stock layer.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from finegrain.tasks.modeling import passes_cache
from finegrain.training.speedups.base import Applied, Setup
from finegrain.training.speedups.masks import additive_mask, keep_mask, masked, tokens_first

__all__ = ["fuse_layers", "FusedLayers", "fusable", "apply"]

_PARAMETERS = ("attention.self.query", "attention.self.key", "attention.self.value", "attention.output.dense",
               "attention.output.LayerNorm", "intermediate.dense", "output.dense", "output.LayerNorm")


def fusable(layer: nn.Module) -> bool:
    """True when ``layer`` is a BERT-style encoder layer whose math this node computes."""
    from transformers.activations import GELUActivation

    try:
        modules = [layer.get_submodule(name) for name in _PARAMETERS]
        act = layer.get_submodule("intermediate").intermediate_act_fn
        dropouts = [layer.get_submodule(name) for name in ("attention.self.dropout", "attention.output.dropout",
                                                           "output.dropout")]
    except AttributeError:
        return False
    linear = all(type(m) is nn.Linear and m.bias is not None for m in modules[:4] + modules[5:7])
    norms = all(type(m) is nn.LayerNorm and m.elementwise_affine and m.bias is not None
                for m in (modules[4], modules[7]))
    return (linear and norms and all(isinstance(d, nn.Dropout) for d in dropouts)
            and type(act) is GELUActivation and act.act is nn.functional.gelu
            and not getattr(layer, "add_cross_attention", False) and not getattr(layer, "is_decoder", False)
            and not getattr(layer, "chunk_size_feed_forward", 0)
            and modules[0].out_features == modules[0].in_features == modules[3].out_features)


@dataclass
class FusedLayers:
    """The layers whose forward pass :func:`fuse_layers` replaced, to put back with ``restore()``."""

    layers: list[nn.Module] = field(default_factory=list)

    def restore(self) -> None:
        for layer in self.layers:
            layer.__dict__.pop("forward", None)
        self.layers = []


def fuse_layers(model: nn.Module) -> FusedLayers:
    """Give every BERT-style encoder layer of ``model`` the one-node forward pass during CPU training."""
    fused = FusedLayers()
    for module in model.modules():
        if "forward" not in module.__dict__ and fusable(module):
            module.forward = _fused_forward(module, module.forward)
            fused.layers.append(module)
    return fused


def apply(model: nn.Module, setup: Setup) -> Applied | None:
    """The speed-up's entry: CPU training with the switch on, where a layer has BERT's structure."""
    if not setup.cpu:
        return None
    fused = fuse_layers(model)
    return Applied(restore=fused.restore, draws_masks=True) if fused.layers else None


def _fused_forward(layer: nn.Module, stock: Any) -> Any:
    attention_module = layer.get_submodule("attention.self")
    modules = [layer.get_submodule(name) for name in _PARAMETERS]

    def forward(hidden_states: torch.Tensor, attention_mask: torch.Tensor | None = None, *args: Any,
                **kwargs: Any) -> torch.Tensor:
        p_attention = attention_module.dropout.p
        p_hidden = layer.output.dropout.p
        unusual = (any(a is not None for a in args) or kwargs.get("output_attentions") or passes_cache(kwargs)
                   or any(kwargs.get(name) is not None for name in ("encoder_hidden_states", "encoder_attention_mask")))
        if (not layer.training or unusual or hidden_states.device.type != "cpu" or not 0 < p_attention < 1
                or not 0 < p_hidden < 1 or layer.attention.output.dropout.p != p_hidden
                or hidden_states.dtype != torch.float32):
            return stock(hidden_states, attention_mask, *args, **kwargs)
        dtype = torch.get_autocast_dtype("cpu") if torch.is_autocast_enabled("cpu") else torch.float32
        mask = additive_mask(attention_mask) if attention_mask is not None else None
        eps = (layer.attention.output.LayerNorm.eps, layer.output.LayerNorm.eps)
        return _Layer.apply(hidden_states, mask, attention_module.num_attention_heads, p_attention, p_hidden,
                            dtype, eps, *(t for m in modules for t in (m.weight, m.bias)))

    return forward


class _Layer(torch.autograd.Function):
    """One encoder layer: attention, output dense + dropout + residual + norm, feed-forward likewise."""

    @staticmethod
    def forward(ctx: Any, x: torch.Tensor, mask: torch.Tensor | None, heads: int, p_attention: float,
                p_hidden: float, dtype: torch.dtype, eps: tuple[float, float], *params: torch.Tensor) -> torch.Tensor:
        with torch.autocast("cpu", enabled=False):
            return _Layer._forward(ctx, x, mask, heads, p_attention, p_hidden, dtype, eps, params)

    @staticmethod
    def _forward(ctx: Any, x: torch.Tensor, mask: torch.Tensor | None, heads: int, p_attention: float,
                 p_hidden: float, dtype: torch.dtype, eps: tuple[float, float],
                 params: tuple[torch.Tensor, ...]) -> torch.Tensor:
        (wq, bq, wk, bk, wv, bv, wo, bo, g1, n1, wi, bi, wo2, bo2, g2, n2) = params
        batch, length, hidden = x.shape
        tokens, size = batch * length, hidden // heads
        x2 = x.reshape(tokens, hidden)
        xc = x2.to(dtype)
        wqkv = torch.cat((wq, wk, wv), out=torch.empty((3 * hidden, hidden), dtype=dtype))
        bqkv = torch.cat((bq, bk, bv), out=torch.empty(3 * hidden, dtype=dtype))
        qkv = torch.addmm(bqkv, xc, wqkv.t()).view(batch, length, 3, heads, size)

        scaling = size ** -0.5
        # q, k and v heads first, one tensor [3, batch * heads, length, size] in one copy
        qkv_heads = qkv.permute(2, 0, 3, 1, 4).reshape(3, batch * heads, length, size)
        q, k, v = qkv_heads.unbind(0)
        scores = torch.add(mask if mask is not None else _NO_MASK, torch.bmm(q, k.transpose(1, 2)).view(
            batch, heads, length, length), alpha=scaling).view(batch * heads, length, length)  # fp32
        probabilities = torch.softmax(scores, -1)
        kept_a = keep_mask((batch, heads, length, length), p_attention).view(scores.shape)
        scale_a = 1.0 / (1.0 - p_attention)
        dropped = masked(probabilities, kept_a, scale_a, dtype)
        context = tokens_first(torch.bmm(dropped, v), batch, dtype).view(tokens, hidden)

        scale = 1.0 / (1.0 - p_hidden)
        wo_c, wi_c, wo2_c = wo.to(dtype), wi.to(dtype), wo2.to(dtype)
        attended = torch.addmm(bo.to(dtype), context, wo_c.t())
        kept1 = keep_mask((tokens, hidden), p_hidden)
        h1 = torch.addcmul(x2, attended, kept1, value=scale)
        a1, mean1, rstd1 = torch.native_layer_norm(h1, [hidden], g1, n1, eps[0])
        a1c = a1.to(dtype)
        inner = torch.addmm(bi.to(dtype), a1c, wi_c.t())
        activated = nn.functional.gelu(inner)
        projected = torch.addmm(bo2.to(dtype), activated, wo2_c.t())
        kept2 = keep_mask((tokens, hidden), p_hidden)
        h2 = torch.addcmul(a1, projected, kept2, value=scale)
        out, mean2, rstd2 = torch.native_layer_norm(h2, [hidden], g2, n2, eps[1])

        ctx.save_for_backward(xc, wqkv, qkv_heads, probabilities, kept_a, dropped, context, wo_c, kept1, h1,
                              mean1, rstd1, g1, n1, a1c, wi_c, inner, activated, wo2_c, kept2, h2, mean2, rstd2,
                              g2, n2)
        ctx.shape, ctx.heads, ctx.scaling, ctx.scales = (batch, length, hidden), heads, scaling, (scale_a, scale)
        return out.view(batch, length, hidden)

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> tuple[torch.Tensor | None, ...]:
        with torch.autocast("cpu", enabled=False):
            return _Layer._backward(ctx, grad)

    @staticmethod
    def _backward(ctx: Any, grad: torch.Tensor) -> tuple[torch.Tensor | None, ...]:
        (xc, wqkv, qkv_heads, probabilities, kept_a, dropped, context, wo_c, kept1, h1, mean1, rstd1, g1, n1, a1c,
         wi_c, inner, activated, wo2_c, kept2, h2, mean2, rstd2, g2, n2) = ctx.saved_tensors
        batch, length, hidden = ctx.shape
        heads, tokens, dtype = ctx.heads, batch * length, xc.dtype
        size = hidden // heads
        scale_a, scale = ctx.scales
        wants = ctx.needs_input_grad[7:]
        g = grad.reshape(tokens, hidden).to(torch.float32)

        d_h2, d_g2, d_n2 = torch.ops.aten.native_layer_norm_backward(
            g, h2, [hidden], mean2, rstd2, g2, n2, [True, wants[14], wants[15]])
        d_projected = masked(d_h2, kept2, scale, dtype)
        d_wo2, d_bo2 = _weight_grads(d_projected, activated, wants[12], wants[13])
        d_inner = torch.ops.aten.gelu_backward(torch.mm(d_projected, wo2_c), inner)
        d_wi, d_bi = _weight_grads(d_inner, a1c, wants[10], wants[11])
        d_a1 = torch.add(d_h2, torch.mm(d_inner, wi_c))
        d_h1, d_g1, d_n1 = torch.ops.aten.native_layer_norm_backward(
            d_a1, h1, [hidden], mean1, rstd1, g1, n1, [True, wants[8], wants[9]])
        d_attended = masked(d_h1, kept1, scale, dtype)
        d_wo, d_bo = _weight_grads(d_attended, context, wants[6], wants[7])
        d_context = torch.mm(d_attended, wo_c).view(batch, length, heads, size)

        d_qkv = torch.empty((tokens, 3 * hidden), dtype=dtype)
        split = d_qkv.view(batch, length, 3, heads, size)
        q, k, v = qkv_heads.unbind(0)
        d_out = d_context.transpose(1, 2).reshape(batch * heads, length, size)
        _into(split[:, :, 2], torch.bmm(dropped.transpose(1, 2), d_out), batch)
        d_probabilities = masked(torch.bmm(d_out, v.transpose(1, 2)), kept_a, scale_a, torch.float32)
        d_scores = torch._softmax_backward_data(d_probabilities, probabilities, -1, probabilities.dtype)
        d_scores = torch.mul(d_scores, ctx.scaling, out=torch.empty(d_scores.shape, dtype=dtype))
        _into(split[:, :, 0], torch.bmm(d_scores, k), batch)
        _into(split[:, :, 1], torch.bmm(d_scores.transpose(1, 2), q), batch)
        d_wqkv, d_bqkv = _weight_grads(d_qkv, xc, any(wants[0:6:2]), any(wants[1:6:2]))
        d_x = None
        if ctx.needs_input_grad[0]:
            d_x = torch.add(d_h1, torch.mm(d_qkv, wqkv)).view(batch, length, hidden)
        d_weights = d_wqkv.split(hidden) if d_wqkv is not None else (None,) * 3
        d_biases = d_bqkv.split(hidden) if d_bqkv is not None else (None,) * 3
        return (d_x, None, None, None, None, None, None,
                d_weights[0], d_biases[0], d_weights[1], d_biases[1], d_weights[2], d_biases[2],
                d_wo, d_bo, d_g1, d_n1, d_wi, d_bi, d_wo2, d_bo2, d_g2, d_n2)


def _weight_grads(grad: torch.Tensor, inputs: torch.Tensor, weight: bool, bias: bool
                  ) -> tuple[torch.Tensor | None, torch.Tensor | None]:
    """A linear layer's weight gradient (``grad^T inputs``) and bias gradient (its column sums), as fp32.

    Both are computed in ``grad``'s dtype and then cast, as autocast computes them: ATen sums bf16
    with fp32 accumulation, and summing into bf16 took half the time of summing into fp32 here.
    """
    d_weight = torch.mm(grad.t(), inputs).to(torch.float32) if weight else None
    d_bias = grad.sum(0).to(torch.float32) if bias else None
    return d_weight, d_bias


def _into(target: torch.Tensor, heads_first: torch.Tensor, batch: int) -> None:
    """Copy a [batch * heads, length, size] result into ``target`` ([batch, length, heads, size], strided)."""
    heads_total, length, size = heads_first.shape
    target.copy_(heads_first.view(batch, heads_total // batch, length, size).transpose(1, 2))


_NO_MASK = torch.zeros((1, 1, 1, 1))  # dimensioned, so that adding it makes fp32 scores
