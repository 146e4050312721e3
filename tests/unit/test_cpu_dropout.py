"""CPU dropout with fast masks: exact Bernoulli(p), seeded by torch, SDPA's math, padding honoured, undone cleanly."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn
from transformers import BertConfig, BertForSequenceClassification
from transformers.integrations.sdpa_attention import sdpa_attention_forward

from finegrain.training.speedups import cpu_dropout as module
from finegrain.training.speedups import masks
from finegrain.training.speedups.cpu_dropout import ATTENTION, CpuDropout, attention, cpu_dropout, dropout
from finegrain.training.speedups.masks import keep_mask


def _model(p: float = 0.1) -> BertForSequenceClassification:
    torch.manual_seed(0)
    config = BertConfig(vocab_size=100, hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                        intermediate_size=64, num_labels=3, hidden_dropout_prob=p, attention_probs_dropout_prob=p,
                        attn_implementation="sdpa")
    return BertForSequenceClassification(config)


def _batch() -> dict[str, torch.Tensor]:
    ids = torch.randint(5, 100, (3, 9), generator=torch.Generator().manual_seed(2))
    mask = torch.ones_like(ids)
    mask[1, 6:] = 0
    mask[2, 3:] = 0
    return {"input_ids": ids.masked_fill(mask == 0, 0), "attention_mask": mask}


def test_each_value_is_dropped_with_probability_p():
    torch.manual_seed(0)
    n, p = 2_000_000, 0.1
    rate = 1 - keep_mask((n,), p).float().mean().item()
    assert abs(rate - p) < 5 * math.sqrt(p * (1 - p) / n)


def test_a_p_between_8_bit_levels_is_exact_not_rounded():
    # p = 10.5 levels of 1/256: rounding down would drop 10 / 256, rounding up 11 / 256
    torch.manual_seed(0)
    n, p = 1 << 22, 10.5 / 256
    dropped = n - int(keep_mask((n,), p).sum())
    expected = n * p  # 172,032 (sd 415); rounding p to a level would be off by 8,192
    assert abs(dropped - expected) < 5 * math.sqrt(expected), dropped


def test_masks_follow_torch_seed_and_differ_call_to_call():
    torch.manual_seed(3)
    first, second = keep_mask((4, 50), 0.3), keep_mask((4, 50), 0.3)
    torch.manual_seed(3)
    assert torch.equal(keep_mask((4, 50), 0.3), first)
    assert not torch.equal(first, second)
    assert first.shape == (4, 50) and first.dtype == torch.uint8 and set(first.unique().tolist()) == {0, 1}


def test_dropout_scales_the_kept_values_and_its_gradient_follows_the_same_mask():
    x = torch.randn(6, 40, requires_grad=True)
    torch.manual_seed(5)
    out = dropout(x, 0.25)
    torch.manual_seed(5)
    dropped = keep_mask(x.shape, 0.25) == 0
    assert torch.allclose(out, torch.where(dropped, 0.0, x / 0.75))
    out.sum().backward()
    assert torch.allclose(x.grad, torch.where(dropped, 0.0, torch.full_like(x, 1 / 0.75)))


def test_outside_training_or_at_p_0_it_is_pytorchs_own():
    x = torch.randn(5, 7)
    assert torch.equal(dropout(x, 0.1, training=False), x)
    assert torch.equal(dropout(x, 0.0), x)
    layer = CpuDropout(0.1).eval()
    assert torch.equal(layer(x), x)


def test_attention_does_sdpas_math_with_the_mask(monkeypatch):
    generator = torch.Generator().manual_seed(1)
    query, key, value = (torch.randn(2, 4, 6, 8, generator=generator) for _ in range(3))
    padding = torch.ones(2, 1, 1, 6, dtype=torch.bool)
    padding[1, ..., 4:] = False
    layer = nn.Module()
    expected, _ = sdpa_attention_forward(layer, query, key, value, padding, dropout=0.0, scaling=0.3, is_causal=False)
    # nothing dropped: the probabilities are only scaled by 1 / (1 - p)
    monkeypatch.setattr(module, "keep_mask", lambda shape, p: torch.ones(shape, dtype=torch.uint8))
    out, _ = attention(layer, query, key, value, padding, dropout=0.2, scaling=0.3, is_causal=False)
    assert torch.allclose(out, expected / 0.8, atol=1e-5)
    nothing = torch.zeros(2, 4, 6, 6, dtype=torch.uint8)
    monkeypatch.setattr(module, "keep_mask", lambda shape, p: nothing)
    dropped_all, _ = attention(layer, query, key, value, padding, dropout=0.2, scaling=0.3, is_causal=False)
    assert torch.equal(dropped_all, torch.zeros_like(dropped_all))


def test_swapping_keeps_parameters_and_undoes_cleanly():
    model = _model()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    swapped = cpu_dropout(model)
    assert model.config._attn_implementation == ATTENTION
    assert all(type(m) is not nn.Dropout for m in model.modules())
    assert sum(isinstance(m, CpuDropout) for m in model.modules()) == 2 * 3 + 2  # per layer 3, embeddings, head
    assert model.state_dict().keys() == before.keys()
    assert "finegrain" not in model.config.to_json_string()  # a model saved mid-training says nothing of it
    swapped.restore()
    assert model.config._attn_implementation == "sdpa"
    assert not any(isinstance(m, CpuDropout) for m in model.modules())
    assert all(torch.equal(v, before[k]) for k, v in model.state_dict().items())
    assert "finegrain" not in model.config.to_json_string()


def test_evaluation_outputs_are_unchanged_padding_included():
    model = _model().eval()
    batch = _batch()
    with torch.no_grad():
        expected = model(**batch).logits
        cpu_dropout(model)
        got = model(**batch).logits
    assert torch.allclose(got, expected, atol=1e-6)


@pytest.mark.parametrize("bf16", [False, True])
def test_training_forward_ignores_what_sits_under_padding(bf16):
    # were the padding mask lost (transformers builds none for an unknown attention name), the ids
    # under it would change the output
    model = _model()
    cpu_dropout(model)
    model.train()
    batch = _batch()
    other = {**batch, "input_ids": batch["input_ids"].masked_fill(batch["attention_mask"] == 0, 7)}
    outputs = []
    for inputs in (batch, other):
        torch.manual_seed(11)
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            outputs.append(model(**inputs).logits.float())
    assert torch.allclose(outputs[0], outputs[1], atol=1e-6)
    torch.manual_seed(12)
    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
        assert not torch.allclose(model(**batch).logits.float(), outputs[0])  # dropout is on


def test_the_padding_mask_is_converted_once_per_mask_and_again_when_changed_in_place():
    mask = torch.ones(1, 1, 2, 3, dtype=torch.bool)
    first = masks.additive_mask(mask)
    assert torch.equal(first, torch.zeros(1, 1, 2, 3)) and masks.additive_mask(mask) is first
    mask[..., 2] = False
    again = masks.additive_mask(mask)
    assert again is not first and (again[..., 2] == torch.finfo(torch.float32).min).all()
    assert (again[..., :2] == 0).all()


def _autograd_reference(query, key, value, padding, kept, p, scaling):
    """SDPA's CPU math path with dropout, op by op, differentiated by autograd."""
    root = math.sqrt(scaling)
    with torch.autocast("cpu", enabled=False):
        scores = (query.float() * root) @ (key.float() * root).transpose(-2, -1)
        scores = scores.masked_fill(~padding, torch.finfo(torch.float32).min)
        dropped = scores.softmax(-1) * kept / (1 - p)
        return (dropped @ value.float()).to(query.dtype).transpose(1, 2)


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_attention_gradients_are_autograds_for_the_same_math(monkeypatch, dtype):
    generator = torch.Generator().manual_seed(3)
    # q, k, v as transformers hands them over: [batch, heads, length, size] views of [batch, length, hidden]
    leaves = [torch.randn(2, 7, 4 * 8, generator=generator).to(dtype).requires_grad_() for _ in range(3)]
    query, key, value = (leaf.view(2, 7, 4, 8).transpose(1, 2) for leaf in leaves)
    padding = torch.ones(2, 1, 7, 7, dtype=torch.bool)
    padding[1, ..., 5:] = False
    kept = keep_mask((2, 4, 7, 7), 0.25)
    assert 0 < int(kept.sum()) < kept.numel()
    monkeypatch.setattr(module, "keep_mask", lambda shape, p: kept)
    upstream = torch.randn(2, 7, 4, 8, generator=generator).to(dtype)

    out, _ = attention(nn.Module(), query, key, value, padding, dropout=0.25, scaling=0.3, is_causal=False)
    grads = torch.autograd.grad(out, leaves, upstream)
    expected = _autograd_reference(query, key, value, padding, kept, 0.25, 0.3)
    expected_grads = torch.autograd.grad(expected, leaves, upstream)

    assert out.shape == (2, 7, 4, 8) and out.is_contiguous() and out.dtype == dtype
    tolerance = {"rtol": 1e-5, "atol": 1e-6} if dtype == torch.float32 else {"rtol": 1e-2, "atol": 1e-3}
    assert torch.allclose(out.float(), expected.float(), **tolerance)
    for mine, reference in zip(grads, expected_grads):
        assert mine.dtype == dtype
        assert torch.allclose(mine.float(), reference.float(), **tolerance)


def test_attention_gives_q_alone_its_gradient_when_k_and_v_need_none(monkeypatch):
    generator = torch.Generator().manual_seed(4)
    query = torch.randn(1, 2, 5, 4, generator=generator, requires_grad=True)
    key, value = (torch.randn(1, 2, 5, 4, generator=generator) for _ in range(2))
    kept = keep_mask((1, 2, 5, 5), 0.1)
    monkeypatch.setattr(module, "keep_mask", lambda shape, p: kept)
    out, _ = attention(nn.Module(), query, key, value, None, dropout=0.1, scaling=0.5, is_causal=False)
    (grad_query,) = torch.autograd.grad(out.sum(), [query])
    everywhere = torch.ones(1, 1, 5, 5, dtype=torch.bool)
    expected = _autograd_reference(query, key, value, everywhere, kept, 0.1, 0.5)
    (expected_grad,) = torch.autograd.grad(expected.sum(), [query])
    assert torch.allclose(grad_query, expected_grad, rtol=1e-5, atol=1e-6)


def test_one_stream_seeds_once_from_torch_and_repeats_from_the_same_state():
    def one_pass():
        with masks.one_stream():
            drawn = [keep_mask((3, 40), 0.1), keep_mask((2, 5, 7), 0.3), keep_mask((3, 40), 0.1)]
        return drawn, torch.randint(0, 2**62, (1,)).item()

    torch.manual_seed(7)
    first, after_first = one_pass()
    torch.manual_seed(7)
    again, after_again = one_pass()
    assert all(torch.equal(a, b) for a, b in zip(first, again))
    assert not torch.equal(first[0], first[2])  # the stream goes on from mask to mask
    torch.manual_seed(7)
    torch.randint(0, 2**62, (1,))  # the one draw a pass takes from torch's generator
    assert after_first == after_again == torch.randint(0, 2**62, (1,)).item()
    assert masks._stream is None  # closed again


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_the_one_pass_mask_gives_the_values_of_mask_then_scale(dtype):
    x = torch.randn(8, 33, generator=torch.Generator().manual_seed(6)).to(dtype)
    kept = keep_mask(x.shape, 0.1)
    assert torch.equal(masks.masked(x, kept, 1 / 0.9), (x * kept).mul_(1 / 0.9))
