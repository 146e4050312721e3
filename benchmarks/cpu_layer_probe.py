"""One training step's forward + backward of MiniLM: the stock encoder layers against finegrain's one-node layers.

"stock" is transformers' BertLayer under bf16 autocast with finegrain's CPU dropout and attention
node (training/speedups/cpu_dropout.py). "fused" adds ``fuse_layers`` (training/speedups/fused_layers.py). Both draw the same dropout masks (one seeded
stream per pass). Shapes of a tweet-ner step: 16 sentences x 35 tokens (5 padded to 28), MiniLM-L6,
a 21-tag head. The two alternate step by step in one process; medians of the step times.

Accuracy: each one's logits and parameter gradients against the same step in fp32 (stock layers,
no autocast), as relative errors ||x - fp32|| / ||fp32||; the key bias is left out (its exact
gradient is 0: softmax ignores a per-query constant, so its relative error is meaningless). Also
printed: PyTorch ops dispatched per step, counted with a dispatch mode.

    python benchmarks/cpu_layer_probe.py [--steps 40]
"""

from __future__ import annotations

import argparse
import collections
import os
import statistics
import time

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import torch  # noqa: E402
from torch.utils._python_dispatch import TorchDispatchMode  # noqa: E402
from transformers import AutoModelForTokenClassification  # noqa: E402

from finegrain.models.catalog import default_model_path  # noqa: E402
from finegrain.training.speedups.allocator import keep_freed_memory  # noqa: E402
from finegrain.training.speedups.cpu_dropout import cpu_dropout  # noqa: E402
from finegrain.training.speedups.fused_layers import fuse_layers  # noqa: E402
from finegrain.training.speedups.masks import one_stream  # noqa: E402

BATCH, LENGTH = 16, 35


class _Count(TorchDispatchMode):
    def __init__(self):
        super().__init__()
        self.ops = collections.Counter()

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        self.ops[func.overloadpacket.__name__] += 1
        return func(*args, **(kwargs or {}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=40, help="timed steps of each")
    args = parser.parse_args()
    keep_freed_memory()  # as finegrain's loop runs
    torch.manual_seed(0)
    model = AutoModelForTokenClassification.from_pretrained(default_model_path(), num_labels=21,
                                                            attn_implementation="sdpa").train()
    cpu_dropout(model)
    ids = torch.randint(1000, 20000, (BATCH, LENGTH))
    mask = torch.ones(BATCH, LENGTH, dtype=torch.long)
    mask[:5, 28:] = 0
    weights = torch.linspace(-1, 1, BATCH * LENGTH * 21).view(BATCH, LENGTH, 21)

    def step(bf16: bool = True, seed: int = 1):
        torch.manual_seed(seed)
        model.zero_grad(set_to_none=True)
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16), one_stream():
            logits = model(input_ids=ids, attention_mask=mask).logits
        (logits.float() * weights).sum().backward()
        return logits.detach().float(), {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}

    def fused(run):
        layers = fuse_layers(model)
        try:
            return run()
        finally:
            layers.restore()

    def relative(a, b):
        return float((a - b).norm() / b.norm())

    reference_logits, reference = step(bf16=False)
    results = {"stock": step(), "fused": fused(step)}
    names = [n for n in reference if not n.endswith("attention.self.key.bias")]
    print(f"MiniLM-L6, {BATCH} x {LENGTH} tokens, bf16 autocast; relative error against the same step in fp32:")
    for name, (logits, grads) in results.items():
        errors = [relative(grads[n], reference[n]) for n in names]
        print(f"  {name:5s}: logits {relative(logits, reference_logits):.4f}; gradients median "
              f"{statistics.median(errors):.4f}, max {max(errors):.4f} ({len(errors)} tensors)")
    for name, run in (("stock", step), ("fused", lambda: fused(step))):
        counter = _Count()
        with counter:
            run()
        print(f"  {name:5s}: {sum(counter.ops.values())} ops dispatched a step")

    times: dict[str, list[float]] = {"stock": [], "fused": []}
    for index in range(args.steps + 2):
        for name in ("stock", "fused") if index % 2 == 0 else ("fused", "stock"):
            layers = fuse_layers(model) if name == "fused" else None
            started = time.perf_counter()
            step(seed=index)
            elapsed = time.perf_counter() - started
            if layers is not None:
                layers.restore()
            if index >= 2:  # the first two of each warm up
                times[name].append(elapsed)
    stock, fused_ = (statistics.median(times[n]) * 1000 for n in ("stock", "fused"))
    ratios = [f / s for s, f in zip(times["stock"], times["fused"])]
    print(f"forward + backward, {args.steps} alternating steps each: stock {stock:.1f} ms, fused {fused_:.1f} ms "
          f"(medians); fused/stock {fused_ / stock:.3f}; median of paired ratios {statistics.median(ratios):.3f}; "
          f"{sum(r < 1 for r in ratios)} of {len(ratios)} pairs faster fused")


if __name__ == "__main__":
    main()
