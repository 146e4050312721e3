"""The first-token last layer: same logits and gradients as the plain model, for every encoder it patches."""

from __future__ import annotations

import copy

import pytest
import torch
from transformers import (BertConfig, BertForSequenceClassification, DistilBertConfig,
                          DistilBertForSequenceClassification, RobertaConfig, RobertaForSequenceClassification)

from finegrain.methods.peft.prefix import PrefixTuning
from finegrain.tasks.classification.first_token import first_token_last_layer, is_first_token_only

SIZES = dict(hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=64)


def _batch(vocab: int, pad: int = 0) -> dict[str, torch.Tensor]:
    generator = torch.Generator().manual_seed(0)
    ids = torch.randint(5, vocab, (3, 9), generator=generator)
    mask = torch.ones_like(ids)
    mask[1, 6:], mask[2, 3:] = 0, 0  # padded rows: the mask path must be sliced right
    ids[mask == 0] = pad
    return {"input_ids": ids, "attention_mask": mask, "labels": torch.tensor([0, 1, 2])}


def _pair(model: torch.nn.Module) -> tuple[torch.nn.Module, torch.nn.Module]:
    patched = copy.deepcopy(model)
    assert first_token_last_layer(patched)
    return model, patched


def _assert_same(plain: torch.nn.Module, patched: torch.nn.Module, batch: dict[str, torch.Tensor]) -> None:
    plain.eval(), patched.eval()  # dropout off: the two must agree exactly, not in distribution
    out_plain, out_patched = plain(**batch), patched(**batch)
    torch.testing.assert_close(out_patched.logits, out_plain.logits, atol=1e-5, rtol=1e-4)
    out_plain.loss.backward()
    out_patched.loss.backward()
    grads = dict(patched.named_parameters())
    for name, parameter in plain.named_parameters():
        if parameter.grad is None:
            assert grads[name].grad is None or not grads[name].grad.abs().any(), name
            continue
        torch.testing.assert_close(grads[name].grad, parameter.grad, atol=1e-5, rtol=1e-4, msg=name)


@pytest.mark.parametrize("attention", ["sdpa", "eager"])
def test_bert_logits_and_gradients_match(attention):
    torch.manual_seed(0)
    config = BertConfig(vocab_size=60, num_labels=3, **SIZES)
    config._attn_implementation = attention
    model = BertForSequenceClassification(config)
    assert model.config._attn_implementation == attention
    _assert_same(*_pair(model), _batch(60))


def test_roberta_logits_and_gradients_match():
    torch.manual_seed(0)
    config = RobertaConfig(vocab_size=60, num_labels=3, pad_token_id=1, max_position_embeddings=40, **SIZES)
    _assert_same(*_pair(RobertaForSequenceClassification(config)), _batch(60, pad=1))


def test_state_dict_and_saved_files_are_unchanged(tmp_path):
    torch.manual_seed(0)
    model = BertForSequenceClassification(BertConfig(vocab_size=60, num_labels=3, **SIZES))
    keys = list(model.state_dict())
    first_token_last_layer(model)
    assert list(model.state_dict()) == keys and is_first_token_only(model)
    model.save_pretrained(tmp_path)
    reloaded = BertForSequenceClassification.from_pretrained(tmp_path).eval()
    batch = {k: v for k, v in _batch(60).items() if k != "labels"}
    torch.testing.assert_close(reloaded(**batch).logits, model.eval()(**batch).logits, atol=1e-5, rtol=1e-4)


def test_lora_inside_the_layer_is_still_used():
    from peft import LoraConfig, TaskType, get_peft_model

    torch.manual_seed(0)
    base = BertForSequenceClassification(BertConfig(vocab_size=60, num_labels=3, **SIZES))
    config = LoraConfig(task_type=TaskType.SEQ_CLS, r=4, target_modules=["query", "value"], init_lora_weights=False)
    plain, patched = get_peft_model(copy.deepcopy(base), config), get_peft_model(copy.deepcopy(base), config)
    patched.load_state_dict(plain.state_dict())
    assert first_token_last_layer(patched.base_model.model)
    _assert_same(plain, patched, _batch(60))


def test_prefix_tuning_falls_back_to_the_plain_layer():
    from peft import PrefixTuningConfig, TaskType, get_peft_model

    torch.manual_seed(0)
    base = BertForSequenceClassification(BertConfig(vocab_size=60, num_labels=3, **SIZES))
    config = PrefixTuningConfig(task_type=TaskType.SEQ_CLS, num_virtual_tokens=4)
    plain = PrefixTuning().wrap(get_peft_model(copy.deepcopy(base), config))  # the prefix as a key/value cache
    patched = copy.deepcopy(plain)
    assert first_token_last_layer(patched.peft_model.base_model)
    _assert_same(plain, patched, _batch(60))


def test_other_encoders_are_left_alone():
    model = DistilBertForSequenceClassification(DistilBertConfig(vocab_size=60, dim=32, n_layers=2, n_heads=4,
                                                                 hidden_dim=64, num_labels=3))
    assert not first_token_last_layer(model) and not is_first_token_only(model)
