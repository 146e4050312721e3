"""Where CPU dropout's time goes, and what finegrain's mask drawing saves (training/speedups/).

Interleaved rounds in one process, medians. Shapes are one training step of the default model on
tweets: batch 16 x 34 tokens, hidden 384, 12 heads.

    python benchmarks/dropout_probe.py
"""

from __future__ import annotations

import copy
import statistics
import time

import torch
from transformers import AutoModelForSequenceClassification

from common import MODEL
from finegrain.tasks.classification.first_token import first_token_last_layer
from finegrain.training.memory import cap_kernel_caches
from finegrain.training.speedups.cpu_dropout import cpu_dropout, dropout
from finegrain.training.speedups.masks import keep_mask

BATCH, LENGTH, WIDTH, HEADS = 16, 34, 384, 12


def medians(cases: dict, rounds: int, repeat: int) -> dict[str, float]:
    for case in cases.values():
        case()
    times: dict[str, list[float]] = {name: [] for name in cases}
    for _ in range(rounds):
        for name, case in cases.items():
            start = time.perf_counter()
            for _ in range(repeat):
                case()
            times[name].append((time.perf_counter() - start) / repeat * 1000)
    return {name: statistics.median(values) for name, values in times.items()}


def bernoulli_threads() -> dict[str, float]:
    values = torch.empty(BATCH * LENGTH * WIDTH)
    out = {}
    for threads in (1, 2):
        torch.set_num_threads(threads)
        out[f"bernoulli_ with {threads} thread(s)"] = medians({"b": lambda: values.bernoulli_(0.9)}, 9, 20)["b"]
    torch.set_num_threads(2)
    return out


def main() -> None:
    cap_kernel_caches()
    hidden = torch.randn(BATCH, LENGTH, WIDTH).to(torch.bfloat16).requires_grad_()
    probabilities = torch.rand(BATCH, HEADS, LENGTH, LENGTH, requires_grad=True)
    ops = medians({
        "PyTorch dropout, hidden (bf16)": lambda: torch.nn.functional.dropout(hidden, 0.1, True),
        "finegrain dropout, hidden (bf16)": lambda: dropout(hidden, 0.1),
        "PyTorch dropout, attention probabilities (fp32)": lambda: torch.nn.functional.dropout(probabilities, 0.1, True),
        "finegrain dropout, attention probabilities (fp32)": lambda: dropout(probabilities, 0.1),
        "finegrain keep_mask alone, hidden": lambda: keep_mask(hidden.shape, 0.1),
    }, rounds=9, repeat=20)
    ops.update(bernoulli_threads())
    for name, ms in ops.items():
        print(f"{name:52s} {ms:7.3f} ms")

    torch.manual_seed(0)
    model = AutoModelForSequenceClassification.from_pretrained(MODEL, num_labels=3)
    first_token_last_layer(model)
    fast = copy.deepcopy(model)
    cpu_dropout(fast)
    ids = torch.randint(1000, 30000, (BATCH, LENGTH))
    mask = torch.ones_like(ids)
    mask[:4, -3:] = 0

    def forward(net: torch.nn.Module, train: bool, backward: bool = False) -> None:
        net.train(train)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            logits = net(input_ids=ids, attention_mask=mask).logits
        if backward:
            logits.float().sum().backward()
            net.zero_grad(set_to_none=True)

    steps = medians({
        "forward, training mode, PyTorch dropout": lambda: forward(model, True),
        "forward, training mode, finegrain dropout": lambda: forward(fast, True),
        "forward, evaluation mode (no dropout)": lambda: forward(model, False),
        "forward + backward, PyTorch dropout": lambda: forward(model, True, True),
        "forward + backward, finegrain dropout": lambda: forward(fast, True, True),
    }, rounds=12, repeat=4)
    print()
    for name, ms in steps.items():
        print(f"{name:52s} {ms:7.1f} ms")
    print(f"\nfinegrain / PyTorch dropout, one hidden-state call: "
          f"{ops['PyTorch dropout, hidden (bf16)'] / ops['finegrain dropout, hidden (bf16)']:.2f}x faster")
    print(f"forward + backward: {steps['forward + backward, PyTorch dropout'] / steps['forward + backward, finegrain dropout']:.2f}x")


if __name__ == "__main__":
    main()
