"""A run's peak memory: what its allocations held, on GPU and on CPU alike.

On a GPU the figure is ``torch.cuda.max_memory_allocated``: live tensors, not what the caching
allocator keeps in reserve. The CPU figure means the same thing: the bytes the C heap has handed
out and not got back (glibc's ``mallinfo2``: in-use chunks plus mmapped blocks), sampled by the
training loop at each step's high points (after the forward pass, after the backward pass, after
the optimizer step), or every 10 ms while an estimator fits.

The process's resident memory (RSS) is recorded beside it (``peak_rss_mb``) but says little about
a method: glibc keeps some freed memory for reuse, and batches of varying shapes fragment the heap, so
RSS grows with the run, not with what the method holds. Without glibc the CPU peak falls back to RSS.

Each CPU run starts (:meth:`PeakMemory.reset`) by handing the heap's free pages back to the system,
so that memory an earlier run of the process left free does not count in this run's RSS, and by
capping the kernel caches of oneDNN, the library behind PyTorch's CPU matrix products
(:func:`cap_kernel_caches`). Both caches (oneDNN's primitive cache and PyTorch's ideep LRU cache)
keep by default up to 1,024 entries, one per distinct problem shape, each holding buffers sized to
its problem; length-grouped batches bring a new sequence length every few steps, so uncapped they
grow through the whole run and count in its peak. Capped, the speed is the same within noise
(benchmarks/results/kernel_cache_ab.txt; tests/unit/test_memory.py guards the cap).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import os
import resource
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import torch

__all__ = ["PeakMemory", "heap_in_use_mb", "peak_rss_mb", "reset_peak_rss", "glibc", "release_free_memory",
           "cap_kernel_caches", "KERNEL_CACHE_CAPACITY"]

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


class _Mallinfo2(ctypes.Structure):
    _fields_ = [(name, ctypes.c_size_t) for name in
                ("arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks", "fordblks",
                 "keepcost")]


@functools.cache
def _mallinfo2() -> Callable[[], _Mallinfo2] | None:
    libc = glibc()
    mallinfo2 = getattr(libc, "mallinfo2", None) if libc is not None else None
    if mallinfo2 is not None:
        mallinfo2.restype = _Mallinfo2
    return mallinfo2


def heap_in_use_mb() -> float | None:
    """Bytes the C heap has handed out and not got back, in MiB; None without glibc >= 2.33."""
    mallinfo2 = _mallinfo2()
    if mallinfo2 is None:
        return None
    info = mallinfo2()
    return (info.uordblks + info.hblkhd) / 2**20


class PeakMemory:
    """The peak of one run: reset at its start, sampled by the loop, read at its end."""

    def __init__(self, device: torch.device):
        self.cuda = device.type == "cuda"
        self.device = device
        self.peak: float | None = None

    def reset(self) -> None:
        """Start this run's peak from zero: several runs in one process (a study) each report their own.

        On CPU, call it before the run's first matrix product: it caps the kernel caches then (see the
        module docstring)."""
        self.peak = None
        if self.cuda:
            torch.cuda.reset_peak_memory_stats(self.device)
        else:
            cap_kernel_caches()
            release_free_memory()
            reset_peak_rss()

    def sample(self) -> None:
        """Note the CPU heap in use now (glibc walks its free lists: cheap, but not free); GPUs
        track their own peak."""
        if not self.cuda:
            now = heap_in_use_mb()
            if now is not None and (self.peak is None or now > self.peak):
                self.peak = now

    @contextmanager
    def watch(self, every: float = 0.01) -> Iterator[None]:
        """Sample from a background thread while the block runs: for work with no steps to sample
        at (an estimator's fit)."""
        done = threading.Event()

        def run() -> None:
            while not done.wait(every):
                self.sample()

        thread = threading.Thread(target=run, name="finegrain-peak-memory", daemon=True)
        thread.start()
        try:
            yield
        finally:
            done.set()
            thread.join()

    def peak_mb(self) -> float:
        """The run's peak allocation in MiB (see the module docstring)."""
        if self.cuda:
            return torch.cuda.max_memory_allocated(self.device) / 2**20
        self.sample()
        return self.peak if self.peak is not None else peak_rss_mb()

    def peak_rss_mb(self) -> float | None:
        """The process's resident-memory high-water mark since :meth:`reset` (CPU runs; None on GPU)."""
        return None if self.cuda else peak_rss_mb()


def reset_peak_rss() -> None:
    """Reset the process's resident-memory high-water mark (Linux: writing 5 to clear_refs)."""
    try:
        with open("/proc/self/clear_refs", "w") as handle:
            handle.write("5")
    except OSError:  # not Linux, or not allowed: the peak then counts from the process start
        pass


def peak_rss_mb() -> float:
    """The process's peak resident memory in MiB (since the last :func:`reset_peak_rss` on Linux)."""
    try:
        with open("/proc/self/status") as handle:
            for line in handle:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 2**20 if sys.platform == "darwin" else peak / 1024  # macOS counts bytes, Linux KiB
