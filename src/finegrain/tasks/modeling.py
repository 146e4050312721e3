"""Building a transformers model with a task head, through the Auto classes only.

The head is what the task adds, and every method trains and saves it. A checkpoint can also lack part of
the body the task's model class has: a masked-LM checkpoint (finegrain's own ``zh-small``, any pretraining
run) has no pooler, which sequence classification puts under its classifier. Such modules start random
like the head, so they count as head modules: frozen, they would stay random for adapter methods, and a
run loaded again would draw different random weights (a LoRA run on zh-small scored 0.0 after reloading).
"""

from __future__ import annotations

import contextlib
import warnings
from typing import Literal

import torch
from transformers import AutoConfig, AutoModelForSequenceClassification, AutoModelForTokenClassification
from transformers.utils import logging as hf_logging

from finegrain.data.labels import LabelMap
from finegrain.errors import ModelError

__all__ = ["build_pretrained", "head_module_names", "quiet_transformers", "passes_cache", "CACHE_ARGUMENTS",
           "token_cross_entropy"]

# What a layer's key/value cache argument is called: ``cache`` from transformers 5.24 on, before it
# ``past_key_values`` (still accepted until 5.40). Prefix tuning hands its prefix in through it.
CACHE_ARGUMENTS = ("cache", "past_key_values")

_AUTO = {"sequence": AutoModelForSequenceClassification, "token": AutoModelForTokenClassification}
_HEADS = ("classifier", "score")  # the task heads of transformers' sequence and token classification models
NEW_MODULES = "finegrain_new_modules"  # the attribute build_pretrained records them under, on the model


@contextlib.contextmanager
def quiet_transformers():
    """Silence transformers while loading/saving: the 'newly initialized head' warning is expected
    (the head is what we train) and its per-file progress bars would bury our own."""
    level = hf_logging.get_verbosity()
    bars = hf_logging.is_progress_bar_enabled()
    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    try:
        with warnings.catch_warnings():
            # peft 0.21 calls transformers 5's deprecated is_gradient_checkpointing: not the user's concern
            warnings.filterwarnings("ignore", message=".*is_gradient_checkpointing.*", category=FutureWarning)
            yield
    finally:
        hf_logging.set_verbosity(level)
        if bars:
            hf_logging.enable_progress_bar()


def build_pretrained(kind: Literal["sequence", "token"], model_path: str, labels: LabelMap, *,
                     random_init: bool = False, **config_kwargs) -> torch.nn.Module:
    """A ``AutoModelFor{Sequence,Token}Classification`` whose config carries the label names."""
    auto = _AUTO[kind]
    kwargs = dict(num_labels=len(labels), id2label=labels.id2label, label2id=labels.label2id, **config_kwargs)
    try:
        with quiet_transformers():
            if random_init:
                config = AutoConfig.from_pretrained(model_path, trust_remote_code=False, **kwargs)
                return auto.from_config(config)
            model, info = auto.from_pretrained(model_path, trust_remote_code=False, output_loading_info=True,
                                               **kwargs)
    except (OSError, ValueError, KeyError) as error:
        raise ModelError(
            f"Could not load model '{model_path}' for {kind} classification: {str(error).splitlines()[0]}",
            hint="Use a BERT-like encoder folder (config.json + weights), e.g. model.name=default.",
        ) from None
    setattr(model, NEW_MODULES, new_body_modules(info["missing_keys"]))
    return model


def new_body_modules(missing_keys: list[str] | set[str]) -> list[str]:
    """The modules outside the head whose weights the checkpoint lacked (each weight's module, the
    outermost when nested), in name order.

    Example:
        >>> new_body_modules(["bert.pooler.dense.weight", "bert.pooler.dense.bias", "classifier.weight"])
        ['bert.pooler.dense']
    """
    modules = sorted({key.rpartition(".")[0] for key in missing_keys if key.partition(".")[0] not in _HEADS})
    return [m for m in modules if m and not any(m.startswith(other + ".") for other in modules)]


def head_module_names(model: torch.nn.Module) -> list[str]:
    """The head modules (new, task-specific) that every method trains and saves, then the body modules the
    checkpoint lacked (:func:`new_body_modules`), which start random as the head does."""
    names = [name for name, _ in model.named_children() if name in _HEADS]
    if not names:
        raise ModelError(f"{type(model).__name__} has no 'classifier' head module, so finegrain cannot train it.",
                         hint="Use a BERT-like encoder (bert, roberta, distilbert, electra, deberta ...).")
    return names + list(getattr(model, NEW_MODULES, []))


def passes_cache(kwargs: dict) -> bool:
    """Whether a layer's keyword arguments carry a key/value cache (under either name)."""
    return any(kwargs.get(name) is not None for name in CACHE_ARGUMENTS)


def token_cross_entropy(logits: torch.Tensor, labels: torch.Tensor, ignore_index: int = -100,
                        weight: torch.Tensor | None = None) -> torch.Tensor:
    """Cross-entropy over the labelled positions (token tagging: NER, grammar tags, spelling words), in float32
    (``weight``: per class, the mean then weighted as torch does); 0 for a batch without any, with the graph kept
    (accelerate's accumulation needs a backward)."""
    if not (labels != ignore_index).any():
        return logits.float().sum() * 0.0
    return torch.nn.functional.cross_entropy(logits.float().reshape(-1, logits.shape[-1]), labels.reshape(-1),
                                             ignore_index=ignore_index, weight=weight)
