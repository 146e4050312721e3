"""Does this CPU run bf16 fast? One MiniLM-sized matrix product in bf16 and in fp32, medians of 10 calls.

On CPUs with AVX-512 BF16 or AMX, bf16 products run about twice as fast as fp32; without them PyTorch
emulates bf16 and it is many times slower. finegrain's ``train.precision: auto`` and the benchmarks'
"Trainer at its best" choose bf16 only where ``cpu_has_fast_bf16()`` says the hardware has it.

    python benchmarks/bf16_probe.py
"""

from __future__ import annotations

import statistics
import time

import torch

from finegrain.training.precision import cpu_has_fast_bf16


def median_ms(a: torch.Tensor, b: torch.Tensor, calls: int = 10) -> float:
    a @ b  # warm-up: kernel selection
    times = []
    for _ in range(calls):
        start = time.perf_counter()
        a @ b
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def main() -> None:
    shape = (640, 384, 1536)  # 16 tweets x 40 tokens, MiniLM's hidden size and feed-forward width
    a, b = torch.randn(shape[0], shape[1]), torch.randn(shape[1], shape[2])
    fp32 = median_ms(a, b)
    bf16 = median_ms(a.bfloat16(), b.bfloat16())
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads; cpu_has_fast_bf16: {cpu_has_fast_bf16()}")
    print(f"{shape[0]}x{shape[1]} @ {shape[1]}x{shape[2]}: fp32 {fp32:.2f} ms, bf16 {bf16:.2f} ms, bf16 / fp32 = {bf16 / fp32:.2f}")


if __name__ == "__main__":
    main()
