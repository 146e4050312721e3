"""A run's peak memory on CPU: the heap in use, sampled, not the resident size glibc keeps; kernel caches capped."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest
import torch

from finegrain.training.memory import PeakMemory, cap_kernel_caches, heap_in_use_mb

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


def test_the_peak_counts_what_was_held_at_the_largest_step():
    _glibc_only()
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


def test_kernel_caches_are_capped_unless_the_user_set_them(monkeypatch):
    monkeypatch.delenv("ONEDNN_PRIMITIVE_CACHE_CAPACITY", raising=False)
    monkeypatch.setenv("LRU_CACHE_CAPACITY", "5")
    cap_kernel_caches()
    assert os.environ["ONEDNN_PRIMITIVE_CACHE_CAPACITY"] == "64"
    assert os.environ["LRU_CACHE_CAPACITY"] == "5"  # the user's own setting stays


def test_a_cpu_run_caps_the_kernel_caches_when_its_peak_starts(monkeypatch):
    """Every CPU run, whatever train.cpu_speedups says: the loop and estimators start their peak there."""
    for variable in ("ONEDNN_PRIMITIVE_CACHE_CAPACITY", "LRU_CACHE_CAPACITY"):
        monkeypatch.delenv(variable, raising=False)
    PeakMemory(CPU).reset()
    assert os.environ["ONEDNN_PRIMITIVE_CACHE_CAPACITY"] == os.environ["LRU_CACHE_CAPACITY"] == "64"


_SHAPES_SCRIPT = """
import sys, torch
from finegrain.training.memory import cap_kernel_caches, heap_in_use_mb
if sys.argv[1] == "cap":
    cap_kernel_caches(8)
weight = torch.randn(1536, 384, requires_grad=True)
def step(length):
    x = torch.randn(8 * length, 384, requires_grad=True)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        y = torch.nn.functional.linear(x, weight)
    y.float().sum().backward()
step(5)
before = heap_in_use_mb()
for length in range(10, 70):  # length-grouped batches: a new shape every step
    step(length)
print(heap_in_use_mb() - before)
"""


def test_capped_kernel_caches_stop_the_heap_growing_with_each_new_shape(tmp_path):
    """In a fresh process: the libraries read the capacity once, at the first matrix product."""
    if heap_in_use_mb() is None:
        pytest.skip("no glibc mallinfo2 to read the heap with")
    script = tmp_path / "shapes.py"
    script.write_text(_SHAPES_SCRIPT)
    env = {k: v for k, v in os.environ.items() if k not in ("ONEDNN_PRIMITIVE_CACHE_CAPACITY", "LRU_CACHE_CAPACITY")}

    def growth(mode: str) -> float:
        done = subprocess.run([sys.executable, str(script), mode], capture_output=True, text=True, env=env, check=True)
        return float(done.stdout.strip().splitlines()[-1])

    default = growth("default")
    if default < 30:
        pytest.skip(f"this CPU's bf16 products keep no per-shape cache worth capping ({default:.0f} MB)")
    capped = growth("cap")
    assert capped < default / 3, (capped, default)
