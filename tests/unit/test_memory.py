"""A run's peak memory on CPU: the heap in use, sampled, not the resident size glibc keeps."""

from __future__ import annotations

import time

import pytest
import torch

from finegrain.training.allocator import keep_freed_memory
from finegrain.training.memory import PeakMemory, heap_in_use_mb

CPU = torch.device("cpu")
MIB_64 = 16 * 2**20  # float32 elements in 64 MiB


def _glibc_only() -> None:
    if heap_in_use_mb() is None:
        pytest.skip("no glibc mallinfo2: the CPU peak falls back to RSS")


def test_heap_in_use_follows_a_tensor_and_its_release():
    _glibc_only()
    before = heap_in_use_mb()
    block = torch.ones(MIB_64)
    held = heap_in_use_mb()
    del block
    after = heap_in_use_mb()
    assert held - before == pytest.approx(64, abs=2)
    assert after - before == pytest.approx(0, abs=2)


def test_the_peak_counts_what_was_held_not_what_the_allocator_kept():
    _glibc_only()
    keep_freed_memory()  # freed memory stays resident, as in a CPU training run
    memory = PeakMemory(CPU)
    memory.reset()
    base = heap_in_use_mb()
    for size in (1, 3, 2):  # steps of different shapes: the resident size only grows
        block = torch.ones(size * MIB_64 // 4)
        memory.sample()
        del block
    memory.sample()
    assert memory.peak_mb() - base == pytest.approx(48, abs=3)  # the largest step: 3 x 16 MiB
    assert memory.peak_rss_mb() > 0


def test_watch_samples_work_that_has_no_steps():
    _glibc_only()
    memory = PeakMemory(CPU)
    memory.reset()
    base = heap_in_use_mb()
    with memory.watch(every=0.002):
        block = torch.ones(MIB_64)
        time.sleep(0.05)
        del block
    assert memory.peak_mb() - base == pytest.approx(64, abs=3)


def test_without_samples_the_peak_is_the_heap_now():
    _glibc_only()
    memory = PeakMemory(CPU)
    memory.reset()
    assert memory.peak_mb() == pytest.approx(heap_in_use_mb(), abs=1)
