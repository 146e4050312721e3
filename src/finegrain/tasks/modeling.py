"""Building a transformers model with a task head, through the Auto classes only."""

from __future__ import annotations

import contextlib
import warnings
from typing import Literal

import torch
from transformers import AutoConfig, AutoModelForSequenceClassification, AutoModelForTokenClassification
from transformers.utils import logging as hf_logging

from finegrain.data.labels import LabelMap
from finegrain.errors import ModelError

__all__ = ["build_pretrained", "head_module_names", "quiet_transformers", "passes_cache", "CACHE_ARGUMENTS"]

# What a layer's key/value cache argument is called: ``cache`` from transformers 5.24 on, before it
# ``past_key_values`` (still accepted until 5.40). Prefix tuning hands its prefix in through it.
CACHE_ARGUMENTS = ("cache", "past_key_values")

_AUTO = {"sequence": AutoModelForSequenceClassification, "token": AutoModelForTokenClassification}


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
            return auto.from_pretrained(model_path, trust_remote_code=False, **kwargs)
    except (OSError, ValueError, KeyError) as error:
        raise ModelError(
            f"Could not load model '{model_path}' for {kind} classification: {str(error).splitlines()[0]}",
            hint="Use a BERT-like encoder folder (config.json + weights), e.g. model.name=default.",
        ) from None


def head_module_names(model: torch.nn.Module) -> list[str]:
    """The head modules (new, task-specific) that every method trains and saves."""
    names = [name for name, _ in model.named_children() if name in {"classifier", "score"}]
    if not names:
        raise ModelError(f"{type(model).__name__} has no 'classifier' head module, so finegrain cannot train it.",
                         hint="Use a BERT-like encoder (bert, roberta, distilbert, electra, deberta ...).")
    return names


def passes_cache(kwargs: dict) -> bool:
    """Whether a layer's keyword arguments carry a key/value cache (under either name)."""
    return any(kwargs.get(name) is not None for name in CACHE_ARGUMENTS)
