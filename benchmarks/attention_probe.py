"""CPU attention with dropout: autograd's graph of SDPA's math path against finegrain's single node.

Both do the same fp32 math with the same mask (training/speedups/cpu_dropout.py): q and k cast to fp32 and
scaled by sqrt(scale), scores plus the additive padding mask, softmax, dropout, times v, back to
bf16. "autograd" is that written as PyTorch ops (what finegrain ran before, and what SDPA's math
path does), "node" is ``cpu_dropout.attention``. One call = forward + backward of one layer's
attention, shapes of one tweet-ner step: batch 16 x 31 tokens, 12 heads of 32. The two alternate
call by call in one process; medians. The outputs and gradients are compared too.

    python benchmarks/attention_probe.py
"""

from __future__ import annotations

import math
import statistics
import time

import torch
from torch import nn

from finegrain.training.speedups import cpu_dropout as module
from finegrain.training.speedups.masks import additive_mask

BATCH, LENGTH, HEADS, SIZE, P = 16, 31, 12, 32, 0.1
SCALING = SIZE ** -0.5


def autograd_graph(query, key, value, mask):
    root = math.sqrt(SCALING)
    with torch.autocast("cpu", enabled=False):
        scores = (query.float() * root) @ (key.float() * root).transpose(-2, -1)
        scores = scores + additive_mask(mask)
        probabilities = module._Dropout.apply(scores.softmax(-1), P)
        out = (probabilities @ value.float()).to(query.dtype)
    return out.transpose(1, 2).contiguous()


def node(query, key, value, mask):
    return module.attention(nn.Module(), query, key, value, mask, dropout=P, scaling=SCALING)[0]


def main() -> None:
    generator = torch.Generator().manual_seed(0)
    leaves = [torch.randn(BATCH, LENGTH, HEADS * SIZE, generator=generator).bfloat16().requires_grad_()
              for _ in range(3)]
    query, key, value = (leaf.view(BATCH, LENGTH, HEADS, SIZE).transpose(1, 2) for leaf in leaves)
    mask = torch.ones(BATCH, 1, LENGTH, LENGTH, dtype=torch.bool)
    mask[:4, ..., LENGTH - 4:] = False  # four padded tweets
    upstream = torch.randn(BATCH, LENGTH, HEADS, SIZE, generator=generator).bfloat16()

    results = {}
    for name, attention in (("autograd", autograd_graph), ("node", node)):
        torch.manual_seed(1)
        out = attention(query, key, value, mask)
        results[name] = (out, torch.autograd.grad(out, leaves, upstream))
    (out_a, grads_a), (out_b, grads_b) = results["autograd"], results["node"]
    print(f"same output: {torch.equal(out_a, out_b)}; largest gradient difference (bf16): "
          f"{max(float((a.float() - b.float()).abs().max()) for a, b in zip(grads_a, grads_b)):.2e}")

    cases = {"autograd": autograd_graph, "node": node}
    times: dict[str, list[float]] = {name: [] for name in cases}
    for index in range(1500):
        order = list(cases) if index % 2 else list(cases)[::-1]
        for name in order:
            start = time.perf_counter()
            torch.autograd.grad(cases[name](query, key, value, mask), leaves, upstream)
            times[name].append(time.perf_counter() - start)
    medians = {name: statistics.median(values[100:]) * 1000 for name, values in times.items()}
    print(f"forward + backward of one layer's attention ({BATCH} x {LENGTH} tokens, {HEADS} heads, p={P}), "
          f"median of 1,400 alternated calls:")
    for name, value in medians.items():
        print(f"  {name:9s} {value:.3f} ms")
    print(f"  node / autograd: {medians['node'] / medians['autograd']:.3f}")


if __name__ == "__main__":
    main()
