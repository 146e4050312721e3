"""The masked-LM model: a checkpoint with an MLM head (added where it has none) or a new BERT.

Only BERT-like encoders qualify: masked-LM needs bidirectional attention. The head's decoder is
tied to the input embeddings (BERT's recipe: fewer parameters, and the head starts meaningful).
"""

from __future__ import annotations

import json
from pathlib import Path

import torch
from transformers import AutoModelForMaskedLM, BertConfig, BertForMaskedLM

from finegrain.errors import ModelError
from finegrain.tasks.modeling import quiet_transformers

__all__ = ["MaskedLanguageModel", "load_masked_lm", "new_bert", "ENCODER_TYPES"]

# model_type in config.json -> the attributes holding the encoder and the MLM head (fast path)
ENCODER_TYPES = {
    "bert": ("bert", "cls"), "roberta": ("roberta", "lm_head"), "xlm-roberta": ("roberta", "lm_head"),
    "camembert": ("roberta", "lm_head"), "electra": None, "distilbert": None, "albert": None,
    "deberta": None, "deberta-v2": None, "mpnet": None, "megatron-bert": None,
}


class MaskedLanguageModel(torch.nn.Module):
    """Logits at the chosen positions only: the vocabulary projection (hidden x vocab per token,
    as costly as the whole encoder for a small model) runs on the ~15% masked tokens instead of all.

    ``model`` is the Hugging Face ``*ForMaskedLM`` that is saved; this wrapper adds no weights.
    """

    def __init__(self, model: torch.nn.Module, model_type: str):
        super().__init__()
        self.model = model
        self.parts = ENCODER_TYPES.get(model_type)

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        chosen = labels != -100
        if self.parts is None:
            return self.model(input_ids=input_ids, attention_mask=attention_mask).logits[chosen]
        encoder, head = (getattr(self.model, name) for name in self.parts)
        hidden = encoder(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
        return head(hidden[chosen])


def _model_type(path: str) -> str:
    config_file = Path(path) / "config.json"
    try:
        return str(json.loads(config_file.read_text(encoding="utf-8")).get("model_type", "?"))
    except (OSError, json.JSONDecodeError) as error:
        raise ModelError(f"Cannot read '{config_file}': {error}.", hint="Point model.name at a Hugging Face"
                         " model folder holding config.json.") from None


def load_masked_lm(path: str) -> MaskedLanguageModel:
    """The checkpoint at ``path`` with its MLM head, or a new tied head if it has none."""
    model_type = _model_type(path)
    if model_type not in ENCODER_TYPES:
        raise ModelError(f"'{path}' is a '{model_type}' model, not a BERT-like encoder: masked-LM pretraining needs"
                         " bidirectional attention.",
                         hint=f"Use a checkpoint of one of: {', '.join(sorted(ENCODER_TYPES))}; or leave"
                         " model.name unset to pretrain a new BERT from scratch.")
    try:
        with quiet_transformers():  # 'newly initialized: cls.predictions.transform...' is expected
            model = AutoModelForMaskedLM.from_pretrained(path, trust_remote_code=False)
    except (OSError, ValueError, KeyError) as error:
        raise ModelError(f"Could not load '{path}' as a masked-LM: {str(error).splitlines()[0]}",
                         hint="The folder needs config.json and its weights (model.safetensors).") from None
    return MaskedLanguageModel(model, model_type)


def new_bert(*, vocab_size: int, layers: int, hidden: int, heads: int, intermediate: int | None,
             max_length: int, pad_id: int) -> MaskedLanguageModel:
    """A randomly initialised BERT with a tied masked-LM head."""
    config = BertConfig(vocab_size=vocab_size, hidden_size=hidden, num_hidden_layers=layers,
                        num_attention_heads=heads, intermediate_size=intermediate or 4 * hidden,
                        max_position_embeddings=max_length, pad_token_id=pad_id, tie_word_embeddings=True)
    return MaskedLanguageModel(BertForMaskedLM(config), "bert")
