"""Gradient clipping on CPU: the same gradients as PyTorch's clip_grad_norm_, bit for bit."""

from __future__ import annotations

import pytest
import torch
from accelerate import Accelerator

from finegrain.training.optim import clip_gradients


def _parameters(scale: float) -> list[torch.nn.Parameter]:
    generator = torch.Generator().manual_seed(0)
    parameters = [torch.nn.Parameter(torch.randn(shape, generator=generator)) for shape in ((7, 5), (5,), (3, 4, 2))]
    for parameter in parameters:
        parameter.grad = torch.randn(parameter.shape, generator=generator) * scale
    parameters.append(torch.nn.Parameter(torch.zeros(2)))  # a parameter that got no gradient
    return parameters


@pytest.mark.parametrize("scale", [10.0, 0.01])  # clipped, and left alone
def test_clip_gradients_matches_pytorch(scale):
    ours, theirs = _parameters(scale), _parameters(scale)
    expected = torch.nn.utils.clip_grad_norm_(theirs, 1.0)
    total = clip_gradients(Accelerator(cpu=True), ours, 1.0)
    assert torch.equal(total, expected)
    assert (float(total) > 1.0) == (scale > 1.0)
    for mine, reference in zip(ours, theirs):
        assert (mine.grad is None) == (reference.grad is None)
        if mine.grad is not None:
            assert torch.equal(mine.grad, reference.grad)


def test_clip_gradients_leaves_small_gradients_untouched():
    parameters = _parameters(0.01)
    before = [p.grad for p in parameters]
    versions = [g._version for g in before if g is not None]
    clip_gradients(Accelerator(cpu=True), parameters, 1.0)
    assert [g._version for g in before if g is not None] == versions  # not even multiplied by 1
    assert all(p.grad is g for p, g in zip(parameters, before))
