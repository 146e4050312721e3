"""The spelling model (MacBERT4CSC / Soft-Masked-BERT style): an encoder whose masked-LM head proposes a
character at every position, beside a one-unit head that scores "this character is wrong".

It is a transformers ``*ForTokenClassification`` model whose ``classifier`` is a :class:`SpellingHead`, so
every method of the zoo adapts it as it adapts NER (PEFT's token-classification type; the head goes into
``modules_to_save``) and it saves and loads in the standard formats. The masked-LM head is the checkpoint's
own when it has one (finegrain's pretraining runs, ALBERT); otherwise it starts as transformers builds it,
its decoder the word embeddings. The decoder is always an own copy of its weights, not tied: PEFT copies the
head for ``modules_to_save`` and ``save_pretrained`` would drop a shared tensor.

Outputs: in training, every position's ``[detection logit, vocabulary logits...]``, what the loss reads; in
evaluation, ``[detection logit, top-k ids, top-k log-probabilities]``, what decoding reads (k = ``TOP_K``):
the whole vocabulary for 1,000 sentences of 50 characters would be 4 GB of floats.
"""

from __future__ import annotations

from pathlib import Path

import torch
from safetensors.torch import load_file
from torch import nn
from transformers import AutoConfig, AutoModelForMaskedLM, AutoModelForTokenClassification

from finegrain.data.labels import LabelMap
from finegrain.errors import ModelError
from finegrain.tasks.modeling import NEW_MODULES, new_body_modules, quiet_transformers

__all__ = ["SpellingHead", "build_spelling_model", "TOP_K", "MARKER"]

TOP_K = 20  # candidates kept per position at inference: the proposal is the best one allowed (decoding.py)
MARKER = "finegrain_spelling"  # the config key that marks a saved spelling model (its value: the MLM head's name)


class SpellingHead(nn.Module):
    """The masked-LM head (hidden -> vocabulary) and the detection unit (hidden -> 1)."""

    def __init__(self, mlm: nn.Module, hidden_size: int):
        super().__init__()
        self.mlm = mlm
        self.detect = nn.Linear(hidden_size, 1)

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:
        vocabulary = self.mlm(hidden)
        detection = self.detect(hidden)
        if self.training:
            return torch.cat([detection, vocabulary], dim=-1)
        top = torch.log_softmax(vocabulary.float(), dim=-1).topk(TOP_K, dim=-1)
        return torch.cat([detection.float(), top.indices.float(), top.values], dim=-1)


def _mlm_head_name(mlm: nn.Module) -> str:
    names = [name for name, _ in mlm.named_children() if name != mlm.base_model_prefix]
    if len(names) != 1:
        raise ModelError(f"{type(mlm).__name__} has {len(names)} modules beside its encoder ({', '.join(names)}), not"
                         " one masked-LM head, so finegrain cannot use it for spelling correction.",
                         hint="use a BERT- or ALBERT-like encoder, e.g. model.name=zh-small or albert-tiny-zh.")
    return names[0]


def _assemble(mlm: nn.Module, config, labels: LabelMap) -> nn.Module:
    """A token-classification model around ``mlm``'s encoder, its head the spelling head."""
    head_name = _mlm_head_name(mlm)
    config.num_labels, config.id2label, config.label2id = len(labels), labels.id2label, labels.label2id
    setattr(config, MARKER, head_name)
    with quiet_transformers():
        model = AutoModelForTokenClassification.from_config(config)
    setattr(model, model.base_model_prefix, getattr(mlm, mlm.base_model_prefix))
    head = getattr(mlm, head_name)
    decoder = mlm.get_output_embeddings()
    if decoder is not None:
        _untie(head, decoder)
    model.classifier = SpellingHead(head, config.hidden_size)
    return model


def _untie(head: nn.Module, decoder: nn.Module) -> None:
    """Give the decoder weights of its own, and drop the head's aliases of them (BERT's and ALBERT's ``bias``
    beside ``decoder.bias``, which their forward never reads): a shared tensor is refused by ``save_pretrained``
    in a model class that declares no tied weights."""
    shared = {id(p) for p in decoder.parameters(recurse=False)}
    for module in head.modules():
        if module is not decoder:
            for name in [n for n, p in module.named_parameters(recurse=False) if id(p) in shared]:
                del module._parameters[name]
    for name, parameter in list(decoder.named_parameters(recurse=False)):
        setattr(decoder, name, nn.Parameter(parameter.detach().clone()))


def build_spelling_model(model_path: str, labels: LabelMap, *, random_init: bool = False) -> nn.Module:
    """The spelling model from a base checkpoint, or one saved by a spelling run (its config carries MARKER)."""
    try:
        with quiet_transformers():
            config = AutoConfig.from_pretrained(model_path, trust_remote_code=False)
            if random_init or getattr(config, MARKER, None):
                model = _assemble(AutoModelForMaskedLM.from_config(config), config, labels)
                if not random_init:
                    model.load_state_dict(load_file(str(Path(model_path) / "model.safetensors")))
                return model
            mlm, info = AutoModelForMaskedLM.from_pretrained(model_path, trust_remote_code=False,
                                                             output_loading_info=True)
    except (OSError, ValueError, KeyError) as error:
        raise ModelError(f"Could not load model '{model_path}' for spelling correction: {str(error).splitlines()[0]}",
                         hint="use a BERT-like encoder folder (config.json + weights), e.g. model.name=zh-small.") from None
    model = _assemble(mlm, config, labels)
    # a body module the checkpoint lacked starts random, as the head does: train and save it with the head
    body = new_body_modules([key for key in info["missing_keys"] if key.startswith(model.base_model_prefix + ".")])
    setattr(model, NEW_MODULES, body)
    return model
