"""Mixed precision: bf16 where the hardware runs it fast, CPUs included."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Literal

import torch

__all__ = ["resolve_precision", "cpu_has_fast_bf16", "autocast_dtype"]


@functools.cache
def cpu_has_fast_bf16() -> bool:
    """True on CPUs with native bf16 arithmetic (AVX-512 BF16 or AMX), where bf16 autocast trains and
    infers much faster than fp32 at the same quality (benchmarks/train_speed.py, inference_speed.py)."""
    try:
        flags = Path("/proc/cpuinfo").read_text().split("flags", 2)[1].split("\n", 1)[0].split()
    except (OSError, IndexError):
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags


def resolve_precision(requested: Literal["auto", "bf16", "fp16", "fp32"], device: str) -> Literal["bf16", "fp16", "no"]:
    """Map the config's precision to accelerate's ``mixed_precision`` for ``device`` ('cpu' or 'cuda')."""
    if requested == "fp32":
        return "no"
    if requested in ("bf16", "fp16"):
        return requested
    if device == "cuda":
        return "bf16" if torch.cuda.is_bf16_supported() else "fp16"
    return "bf16" if cpu_has_fast_bf16() else "no"


def autocast_dtype(mixed_precision: str) -> torch.dtype | None:
    return {"bf16": torch.bfloat16, "fp16": torch.float16}.get(mixed_precision)
