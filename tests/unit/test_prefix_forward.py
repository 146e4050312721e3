"""Prefix tuning's own forward pass reproduces what PEFT computed before transformers 5.24.

The reference (``tests/fixtures/prefix_reference``) was written by PEFT 0.21.2 with transformers
5.23.0, whose encoders still took ``past_key_values``; see ``make_reference.py`` there.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from peft import PrefixTuningConfig, TaskType, get_peft_model
from safetensors import safe_open
from safetensors.torch import load_file
from transformers import BertConfig, BertForSequenceClassification, BertForTokenClassification

from finegrain.methods.peft.prefix import PrefixTuning

REFERENCE = Path(__file__).parents[1] / "fixtures" / "prefix_reference"
CONFIG = dict(vocab_size=40, hidden_size=16, num_hidden_layers=2, num_attention_heads=2, intermediate_size=32,
              max_position_embeddings=32, num_labels=3)
KINDS = {"sequence": (BertForSequenceClassification, TaskType.SEQ_CLS),
         "token": (BertForTokenClassification, TaskType.TOKEN_CLS)}


def _prefix_model(kind: str) -> torch.nn.Module:
    model_class, task_type = KINDS[kind]
    peft_model = get_peft_model(model_class(BertConfig(**CONFIG)),
                                PrefixTuningConfig(task_type=task_type, num_virtual_tokens=4))
    peft_model.load_state_dict(load_file(REFERENCE / f"{kind}-weights.safetensors"))
    return PrefixTuning().wrap(peft_model).eval()


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_logits_and_prefix_gradient_match_peft_before_transformers_5_24(kind):
    reference = load_file(REFERENCE / f"{kind}-outputs.safetensors")
    model = _prefix_model(kind)
    logits = model(input_ids=reference["input_ids"], attention_mask=reference["attention_mask"]).logits
    logits.float().pow(2).mean().backward()
    prefix = next(p for name, p in model.named_parameters() if "prompt_encoder" in name)
    torch.testing.assert_close(logits, reference["logits"], rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(prefix.grad, reference["prefix_grad"], rtol=1e-4, atol=1e-7)


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_the_prefix_changes_the_output(kind):
    """A forward pass that dropped the prefix would still match the reference's shape, not its values."""
    reference = load_file(REFERENCE / f"{kind}-outputs.safetensors")
    model = _prefix_model(kind)
    inputs = {"input_ids": reference["input_ids"], "attention_mask": reference["attention_mask"]}
    with torch.no_grad():
        with_prefix = model(**inputs).logits
        without = model.peft_model.base_model(**inputs).logits
    assert (with_prefix - without).abs().max() > 1e-3


def test_the_reference_was_written_before_the_rename():
    with safe_open(REFERENCE / "sequence-outputs.safetensors", "pt") as handle:
        version = handle.metadata()["transformers"]
    assert tuple(int(part) for part in version.split(".")[:2]) < (5, 24)
