"""The last encoder layer computed for the first token only: exact, and ~1/7 less work.

A sequence-classification head reads one position of the last hidden states: the first token
(``[CLS]``/``<s>``, through BERT's pooler or RoBERTa's head). In the last encoder layer every
other position's query, attention output, LayerNorm and feed-forward are computed and thrown
away; only their keys and values matter. :func:`first_token_last_layer` makes the last layer
compute queries and everything after attention for position 0 alone, keys and values for all
positions. The math of position 0 is unchanged (same weights, same ops on a subset of rows), so
logits and gradients match the plain model to float rounding, while forward and backward skip
about 10/12 of one layer's matrix work: ~14% of a 6-layer encoder.

The seam is one instance attribute, ``layer.forward``: the weights, their names and
``save_pretrained`` are untouched, and PEFT / adapter modules inside the layer are still
called. Layers it does not recognise (DistilBERT, DeBERTa ...) are left alone, and a call with
a key/value cache (PEFT prefix tuning) goes through the original forward.

Example:
    >>> import torch
    >>> from transformers import BertConfig, BertForSequenceClassification
    >>> config = BertConfig(vocab_size=50, hidden_size=16, num_hidden_layers=2, num_attention_heads=2,
    ...                     intermediate_size=32)
    >>> model = BertForSequenceClassification(config).eval()
    >>> ids = torch.randint(0, 50, (2, 7))
    >>> before = model(input_ids=ids).logits
    >>> first_token_last_layer(model)
    True
    >>> torch.allclose(before, model(input_ids=ids).logits, atol=1e-6)
    True
"""

from __future__ import annotations

import contextlib
import types
from collections.abc import Iterator
from typing import Any

import torch
from torch import nn

from finegrain.tasks.modeling import passes_cache

__all__ = ["first_token_last_layer", "is_first_token_only", "every_position"]

_MARK = "_finegrain_first_token"
# model types whose sequence-classification head reads the first position of the last layer
_FIRST_TOKEN_HEADS = {"bert", "roberta", "xlm-roberta", "electra", "camembert", "ernie", "roberta-prelayernorm"}


def first_token_last_layer(model: nn.Module) -> bool:
    """Patch ``model``'s last encoder layer to compute position 0 only; True when it did."""
    config = getattr(model, "config", None)
    if getattr(config, "model_type", None) not in _FIRST_TOKEN_HEADS or getattr(config, "is_decoder", False):
        return False
    layer = _last_layer(model)
    if layer is None or not _recognised(layer):
        return False
    if not getattr(layer, _MARK, False):
        original = layer.forward
        layer.forward = types.MethodType(_make_forward(original), layer)
        setattr(layer, _MARK, True)
    return True


def is_first_token_only(model: nn.Module) -> bool:
    layer = _last_layer(model)
    return bool(layer is not None and getattr(layer, _MARK, False))


def _last_layer(model: nn.Module) -> nn.Module | None:
    for name, module in model.named_modules():
        if name.endswith("encoder") and isinstance(getattr(module, "layer", None), nn.ModuleList) and len(module.layer):
            return module.layer[-1]
    return None


def _recognised(layer: nn.Module) -> bool:
    attention = getattr(layer, "attention", None)
    self_attention = getattr(attention, "self", None)
    return (all(hasattr(self_attention, name) for name in ("query", "key", "value", "scaling", "config"))
            and hasattr(attention, "output") and callable(getattr(layer, "feed_forward_chunk", None)))


def _make_forward(original):
    def forward(layer: nn.Module, hidden_states: torch.Tensor, attention_mask: torch.Tensor | None = None,
                *args: Any, **kwargs: Any) -> torch.Tensor:
        if passes_cache(kwargs) or any(arg is not None for arg in args):
            return original(hidden_states, attention_mask, *args, **kwargs)
        return _first_token_forward(layer, hidden_states, attention_mask)

    return forward


def _first_token_forward(layer: nn.Module, hidden_states: torch.Tensor,
                         attention_mask: torch.Tensor | None) -> torch.Tensor:
    from transformers.modeling_utils import ALL_ATTENTION_FUNCTIONS
    from transformers.models.bert.modeling_bert import eager_attention_forward

    attention = layer.attention.self
    batch, length, _ = hidden_states.shape
    first = hidden_states[:, :1]
    query = attention.query(first).view(batch, 1, -1, attention.attention_head_size).transpose(1, 2)
    key = attention.key(hidden_states).view(batch, length, -1, attention.attention_head_size).transpose(1, 2)
    value = attention.value(hidden_states).view(batch, length, -1, attention.attention_head_size).transpose(1, 2)
    if attention_mask is not None and attention_mask.dim() == 4 and attention_mask.shape[-2] != 1:
        attention_mask = attention_mask[:, :, :1, :]  # the first query's row of the mask
    interface = ALL_ATTENTION_FUNCTIONS.get_interface(attention.config._attn_implementation, eager_attention_forward)
    context, _ = interface(attention, query, key, value, attention_mask,
                           dropout=attention.dropout.p if attention.training else 0.0, scaling=attention.scaling)
    context = context.reshape(batch, 1, -1).contiguous()
    return layer.feed_forward_chunk(layer.attention.output(context, first))


@contextlib.contextmanager
def every_position(model: nn.Module) -> Iterator[None]:
    """The last layer computes every position again while the block runs (attention rollout reads all of
    its attention rows), then only the first one."""
    layer = _last_layer(model)
    patched = layer is not None and getattr(layer, _MARK, False)
    forward = layer.__dict__.pop("forward") if patched else None
    if patched:
        setattr(layer, _MARK, False)
    try:
        yield
    finally:
        if patched:
            layer.forward = forward
            setattr(layer, _MARK, True)
