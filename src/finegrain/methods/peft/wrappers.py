"""Modules that sit around a PEFT model where PEFT's own forward pass does not fit finegrain's loop.

Both keep the interface the loop relies on, ``model(input_ids=..., attention_mask=...).logits``
with one row per real token, and hold the ``PeftModel`` as ``peft_model`` so that saving,
loading and merging go through PEFT unchanged.
"""

from __future__ import annotations

import functools
import inspect
from typing import TYPE_CHECKING, Any

import torch

from finegrain.errors import ModelError
from finegrain.tasks.modeling import CACHE_ARGUMENTS

if TYPE_CHECKING:
    from peft import PeftModel

__all__ = ["PeftWrapper", "VirtualTokenTrim", "PrefixKeyValues", "unwrap_peft"]


class PeftWrapper(torch.nn.Module):
    """A PEFT model with a forward pass of our own; ``peft_model`` is what PEFT saves and loads."""

    def __init__(self, peft_model: PeftModel):
        super().__init__()
        self.peft_model = peft_model

    # What explainers read of a transformers model (finegrain explain), passed through to it
    @property
    def config(self) -> Any:
        return self.peft_model.config

    def get_input_embeddings(self) -> torch.nn.Module:
        return self.peft_model.get_input_embeddings()

    def set_attn_implementation(self, implementation: str) -> None:
        self.peft_model.set_attn_implementation(implementation)


class VirtualTokenTrim(PeftWrapper):
    """Drops the virtual-token positions that prompt tuning prepends to token-level logits.

    PEFT 0.21 prepends ``num_virtual_tokens`` soft tokens to the input for token classification
    and returns logits for them too, so logits no longer line up with the labels. This drops
    them again (and pads ``labels`` with -100 if they are passed).
    """

    def __init__(self, peft_model: PeftModel, num_virtual_tokens: int):
        super().__init__(peft_model)
        self.num_virtual_tokens = num_virtual_tokens

    def forward(self, labels: torch.Tensor | None = None, **inputs: Any) -> Any:
        if labels is not None:
            padding = labels.new_full((labels.shape[0], self.num_virtual_tokens), -100)
            labels = torch.cat([padding, labels], dim=1)
        output = self.peft_model(labels=labels, **inputs)
        output.logits = output.logits[:, self.num_virtual_tokens :]
        return output


class PrefixKeyValues(PeftWrapper):
    """Prefix tuning's forward pass: the encoder gets the trained prefix as its key/value cache.

    PEFT 0.21.2 passes the prefix as ``past_key_values`` only after finding that name in the
    backbone's signature. transformers 5.24 renamed the argument ``cache`` (the old name is
    still accepted until 5.40), so PEFT refuses every encoder ("Model does not support past key
    values"). This does what PEFT did, under the name the encoder takes: the prefix from PEFT's
    ``get_prompt`` (one cache layer per encoder layer, so each attention layer sees the prefix's
    keys and values before the text's), the attention mask extended by the prefix's positions,
    and the model's own head and loss. ``tests/unit/test_prefix_forward.py`` checks the logits
    and the prefix's gradient against what PEFT computed with transformers 5.23.
    """

    def forward(self, input_ids: torch.Tensor | None = None, attention_mask: torch.Tensor | None = None,
                **inputs: Any) -> Any:
        peft_model = self.peft_model
        batch_size = (input_ids if input_ids is not None else inputs["inputs_embeds"]).shape[0]
        if attention_mask is not None:
            prefix = attention_mask.new_ones(batch_size, peft_model.active_peft_config.num_virtual_tokens)
            attention_mask = torch.cat([prefix, attention_mask], dim=1)
        model = peft_model.base_model
        cache = {_cache_argument(type(model.get_submodule(peft_model.transformer_backbone_name))):
                 peft_model.get_prompt(batch_size)}
        return model(input_ids=input_ids, attention_mask=attention_mask, **cache, **inputs)


@functools.cache
def _cache_argument(backbone: type) -> str:
    """The name under which the encoder takes a key/value cache: ``cache`` from transformers 5.24 on."""
    parameters = inspect.signature(backbone.forward).parameters
    for name in CACHE_ARGUMENTS:
        if name in parameters:
            return name
    raise ModelError(f"{backbone.__name__} takes no key/value cache, so prefix tuning cannot reach its attention.",
                     hint="Use another method (lora, ia3, prompt) for this model.")


def unwrap_peft(model: torch.nn.Module) -> PeftModel:
    """The ``PeftModel`` inside what a PEFT method's ``apply`` returned."""
    from peft import PeftModel

    inner = model.peft_model if isinstance(model, PeftWrapper) else model
    if not isinstance(inner, PeftModel):
        raise ModelError(f"Expected the PeftModel returned by apply(), got {type(inner).__name__}.")
    return inner
