"""The grammar model: a transformers ``*ForTokenClassification`` model over the tag vocabulary, whose
``classifier`` is a :class:`GrammarHead`.

The head holds a linear layer's ``weight`` and ``bias`` under the names ``nn.Linear`` uses, so a saved model
loads with ``from_pretrained`` like any token classifier, and every method of the zoo adapts it as it adapts
NER (PEFT's token-classification type, the head in ``modules_to_save``). Only its output differs with the
mode: in training, every tag's logit (what the loss reads); in evaluation, ``[log p($KEEP), top-k tag ids,
top-k log-probabilities]`` (k = ``TOP_K``), what decoding reads: 5,000 tags for 1,000 sentences of 40
tokens would be 800 MB of floats.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from finegrain.data.labels import LabelMap
from finegrain.tasks.modeling import build_pretrained

__all__ = ["GrammarHead", "build_grammar_model", "TOP_K"]

TOP_K = 5  # candidates kept per word at inference: the chosen tag is among them once $KEEP is biased


class GrammarHead(nn.Module):
    """hidden -> tag logits; in evaluation, log p($KEEP) and the top-k tags only."""

    def __init__(self, linear: nn.Linear, keep: int):
        super().__init__()
        self.weight, self.bias = linear.weight, linear.bias
        self.keep = keep

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:
        logits = F.linear(hidden, self.weight, self.bias)
        if self.training:
            return logits
        scores = torch.log_softmax(logits.float(), dim=-1)
        top = scores.topk(min(TOP_K, scores.shape[-1]), dim=-1)
        return torch.cat([scores[..., self.keep:self.keep + 1], top.indices.float(), top.values], dim=-1)


def build_grammar_model(model_path: str, labels: LabelMap, *, random_init: bool = False) -> nn.Module:
    """A token classifier over ``labels`` (the tags) from a base checkpoint or a saved grammar run."""
    model = build_pretrained("token", model_path, labels, random_init=random_init)
    model.classifier = GrammarHead(model.classifier, labels.id("$KEEP"))
    return model
