"""CPU training without page faults: freed memory stays in the process for the next step.

Each CPU training step allocates and frees the same large buffers: the dense gradient of the
word embeddings (30,522 x 384 floats for MiniLM, 47 MB), autocast's bf16 copies of the weights,
activations. glibc hands buffers above its mmap threshold (at most 32 MB) straight back to the
kernel on free, and trims the top of its heap, so the next step gets fresh pages and pays a page
fault for every 4 KiB it touches: measured here, ~29,000 minor faults per step of a plain
MiniLM loop (16 tweets) and ~11,500 per step of finegrain's loop. With mmap off and trimming
deferred, the next step reuses the same pages: 0 and 37 faults per step, with the same peak
memory (836 vs 843 MB). Speed: the Trainer ran 1.16x faster with it (benchmarks/README.md);
for finegrain's own loop the gain was within the machine's run-to-run noise.

The setting is process-wide (glibc has one allocator) and stays after training; finegrain applies
it only when it trains on CPU (``train.cpu_allocator: keep``, the default) and returns the free
memory to the system with :func:`release_free_memory` before each run measures its peak, so
per-run peak memory stays each run's own. Other C libraries (musl, macOS) are left alone.

Every CPU run also caps the kernel caches of oneDNN, the library behind PyTorch's CPU matrix
products, at 64 entries each (:func:`cap_kernel_caches`; a user's own setting of the two
environment variables wins). Both caches (oneDNN's primitive cache
and PyTorch's ideep LRU cache) keep up to 1,024 entries, one per distinct problem shape, and an
entry holds buffers sized to its problem. Length-grouped batches bring a new sequence length
every few steps, so the caches grow through the whole run: measured here, 60 steps of 60
different lengths left 397 MB more heap in use for full fine-tuning of MiniLM and 530 MB for
every-layer LoRA, which has four more matrix shapes per layer; capped at 64, 28 MB and 23 MB,
and the 60 steps took 17.3 s against 16.1 uncapped for full fine-tuning, 15.8 against 18.3 for
LoRA (one run each: within this machine's noise).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import os
import sys

__all__ = ["glibc", "keep_freed_memory", "release_free_memory", "cap_kernel_caches", "KERNEL_CACHE_CAPACITY"]

_M_TRIM_THRESHOLD, _M_MMAP_MAX = -1, -4  # mallopt parameters, from glibc's malloc.h
_TRIM_THRESHOLD = 1 << 30  # free memory at the heap's top kept up to 1 GiB before it is trimmed
KERNEL_CACHE_CAPACITY = 64  # entries; each library's default is 1,024
_KERNEL_CACHE_VARIABLES = ("ONEDNN_PRIMITIVE_CACHE_CAPACITY", "LRU_CACHE_CAPACITY")


@functools.cache
def glibc() -> ctypes.CDLL | None:
    """The process's glibc, or None off Linux or under another C library."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        libc.gnu_get_libc_version  # noqa: B018 - present in glibc only
        return libc
    except (OSError, AttributeError):
        return None


def keep_freed_memory() -> bool:
    """Serve every allocation from the heap and defer trimming; True when glibc accepted it."""
    libc = glibc()
    if libc is None:
        return False
    return bool(libc.mallopt(_M_MMAP_MAX, 0)) and bool(libc.mallopt(_M_TRIM_THRESHOLD, _TRIM_THRESHOLD))


def release_free_memory() -> None:
    """Give the heap's free pages back to the system (``malloc_trim``); a no-op off glibc."""
    libc = glibc()
    if libc is not None:
        libc.malloc_trim(0)


def cap_kernel_caches(capacity: int = KERNEL_CACHE_CAPACITY) -> None:
    """Cap oneDNN's and ideep's per-shape kernel caches (environment variables that the user did
    not set). The libraries read them once, at the process's first CPU matrix product: called
    after that, this changes nothing (the caches keep their default size)."""
    for variable in _KERNEL_CACHE_VARIABLES:
        os.environ.setdefault(variable, str(capacity))
