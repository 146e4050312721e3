"""The one-node encoder layer: the stock layer's outputs and gradients, with the same dropout masks."""

from __future__ import annotations

import pytest
import torch
from torch import nn
from transformers import BertConfig, BertForTokenClassification

from finegrain.training.speedups import fused_layers
from finegrain.training.speedups.cpu_dropout import cpu_dropout
from finegrain.training.speedups.fused_layers import fusable, fuse_layers
from finegrain.training.speedups.masks import one_stream
from test_cpu_dropout import _batch  # three sentences, two of them padded


def _model(**overrides) -> BertForTokenClassification:
    torch.manual_seed(0)
    settings = {"vocab_size": 100, "hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 4,
                "intermediate_size": 64, "num_labels": 5, "hidden_dropout_prob": 0.1,
                "attention_probs_dropout_prob": 0.1, "attn_implementation": "sdpa", **overrides}
    model = BertForTokenClassification(BertConfig(**settings))
    cpu_dropout(model)
    return model.train()


def _step(model: nn.Module, bf16: bool, seed: int = 3) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """Logits and every parameter's gradient for one forward + backward pass with seeded masks."""
    model.zero_grad(set_to_none=True)
    torch.manual_seed(seed)
    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16), one_stream():
        logits = model(**_batch()).logits
    weights = torch.linspace(-1, 1, logits.numel()).view(logits.shape)
    (logits.float() * weights).sum().backward()
    return logits.detach().float(), {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}


def _relative(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a - b).norm() / b.norm().clamp_min(1e-12))


def _fused_step(model: nn.Module, bf16: bool) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    fused = fuse_layers(model)
    assert len(fused.layers) == 2
    try:
        return _step(model, bf16)
    finally:
        fused.restore()


def test_in_fp32_outputs_and_every_gradient_are_the_stock_layers():
    model = _model()
    logits, grads = _step(model, bf16=False)
    fused_logits, fused_grads = _fused_step(model, bf16=False)
    assert torch.allclose(fused_logits, logits, rtol=1e-5, atol=1e-6)  # the same masks: dropout is on in both
    assert fused_grads.keys() == grads.keys()
    for name, grad in grads.items():
        # the key bias gets no gradient in exact arithmetic (softmax ignores a per-query constant)
        if not name.endswith("attention.self.key.bias"):
            assert _relative(fused_grads[name], grad) < 1e-4, name


def test_in_bf16_its_error_against_fp32_is_within_twice_the_stock_layers():
    model = _model()
    reference_logits, reference = _step(model, bf16=False)
    stock_logits, stock = _step(model, bf16=True)
    fused_logits, fused = _fused_step(model, bf16=True)
    stock_error = _relative(stock_logits, reference_logits)
    assert 0 < _relative(fused_logits, reference_logits) < 2 * stock_error
    for name in reference:
        if name.endswith("attention.self.key.bias"):
            continue
        stock_error = _relative(stock[name], reference[name])
        assert _relative(fused[name], reference[name]) < 2 * stock_error + 1e-3, name


def test_frozen_weights_get_no_gradient_and_the_rest_are_unchanged():
    model = _model()
    for name, parameter in model.named_parameters():  # BitFit: biases alone train
        parameter.requires_grad_(name.endswith("bias"))
    _, grads = _step(model, bf16=False)
    _, fused = _fused_step(model, bf16=False)
    assert fused.keys() == grads.keys() and all(name.endswith("bias") for name in grads)
    for name, grad in grads.items():
        if not name.endswith("attention.self.key.bias"):
            assert _relative(fused[name], grad) < 1e-4, name


def test_outside_training_it_is_the_stock_layer_exactly():
    model = _model().eval()
    with torch.no_grad():
        expected = model(**_batch()).logits
        fused = fuse_layers(model)
        got = model(**_batch()).logits
    fused.restore()
    assert torch.equal(got, expected)


def test_each_layer_is_one_node_and_restore_puts_the_stock_forward_back(monkeypatch):
    model = _model()
    calls = []
    apply = fused_layers._Layer.apply
    monkeypatch.setattr(fused_layers._Layer, "apply", lambda *args: calls.append(1) or apply(*args))
    before = {k: v.clone() for k, v in model.state_dict().items()}
    fused = fuse_layers(model)
    _step(model, bf16=True)
    assert len(calls) == 2
    fused.restore()
    _step(model, bf16=True)
    assert len(calls) == 2 and all("forward" not in layer.__dict__ for layer in model.bert.encoder.layer)
    assert all(torch.equal(v, before[k]) for k, v in model.state_dict().items())


@pytest.mark.parametrize("overrides", [{"hidden_act": "relu"}, {"chunk_size_feed_forward": 4}])
def test_other_layers_keep_their_own_forward(overrides):
    model = _model(**overrides)
    assert not any(fusable(m) for m in model.modules())
    assert fuse_layers(model).layers == []


def test_a_layer_whose_linear_modules_are_wrapped_keeps_its_own_forward():
    model = _model()
    layer = model.bert.encoder.layer[0]
    assert fusable(layer)
    wrapped = nn.Sequential(layer.attention.self.query)  # as an adapter wraps it
    layer.attention.self.query = wrapped
    assert not fusable(layer)
    assert fuse_layers(model).layers == [model.bert.encoder.layer[1]]


def test_a_layer_given_a_key_value_cache_keeps_its_own_forward():
    """Prefix tuning hands each layer its prefix as a cache (``cache`` since transformers 5.24)."""
    from peft import PrefixTuningConfig, TaskType, get_peft_model

    from finegrain.methods.peft.prefix import PrefixTuning

    model = _model()
    config = PrefixTuningConfig(task_type=TaskType.TOKEN_CLS, num_virtual_tokens=4)
    prefixed = PrefixTuning().wrap(get_peft_model(model, config)).train()
    logits, grads = _step(prefixed, bf16=False)
    fused = fuse_layers(model)
    try:
        fused_logits, fused_grads = _step(prefixed, bf16=False)
    finally:
        fused.restore()
    assert torch.equal(fused_logits, logits)
    assert all(torch.equal(fused_grads[name], grad) for name, grad in grads.items())
