"""CPU training without page faults: freed memory stays in the process for the next step.

Each CPU training step allocates and frees the same large buffers: the dense gradient of the word
embeddings, autocast's bf16 copies of the weights, activations. glibc hands buffers above its mmap
threshold straight back to the kernel on free, and trims the top of its heap, so the next step gets
fresh pages and pays a page fault for every 4 KiB it touches. With mmap off and trimming deferred,
the next step reuses the same pages, with the same peak memory in use.

The setting is process-wide (glibc has one allocator) and stays after training: nothing restores
it. Other C libraries (musl, macOS) are left alone. The peak a run reports is the heap in use, not
what glibc keeps (training/memory.py), and each CPU run hands the free pages back before it starts
measuring. Evidence: benchmarks/README.md (page faults per step), benchmarks/results/train_speed.txt.
"""

from __future__ import annotations

from torch import nn

from finegrain.training.memory import glibc
from finegrain.training.speedups.base import Applied, Setup

__all__ = ["keep_freed_memory", "apply"]

_M_TRIM_THRESHOLD, _M_MMAP_MAX = -1, -4  # mallopt parameters, from glibc's malloc.h
_TRIM_THRESHOLD = 1 << 30  # free memory at the heap's top kept up to 1 GiB before it is trimmed


def keep_freed_memory() -> bool:
    """Serve every allocation from the heap and defer trimming; True when glibc accepted it."""
    libc = glibc()
    if libc is None:
        return False
    return bool(libc.mallopt(_M_MMAP_MAX, 0)) and bool(libc.mallopt(_M_TRIM_THRESHOLD, _TRIM_THRESHOLD))


def apply(model: nn.Module, setup: Setup) -> Applied | None:
    """The speed-up's entry: CPU training with the switch on, under glibc."""
    return Applied() if setup.cpu and keep_freed_memory() else None
