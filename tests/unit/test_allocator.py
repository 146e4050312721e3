"""finegrain's CPU allocator setting: a training-like step reuses freed memory without page faults."""

from __future__ import annotations

import os
import resource

import pytest
import torch

from finegrain.training.allocator import cap_kernel_caches, keep_freed_memory, release_free_memory


def _step() -> None:
    """The allocation pattern of a CPU training step: one large gradient, several weight-sized copies."""
    gradient = torch.zeros(12 * 2**20)  # 48 MiB, like MiniLM's word-embedding gradient: above any mmap threshold
    copies = [torch.ones(600_000) for _ in range(6)]  # like autocast's bf16 copies of the weights
    del gradient, copies


def _faults(function) -> int:
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    function()
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before


def test_steps_reuse_freed_memory_without_page_faults():
    if not keep_freed_memory():
        pytest.skip("not glibc: the setting does not apply")
    faults = [_faults(_step) for _ in range(8)]
    # with the system's policy every step here costs ~12,000 faults (fresh pages for the 48 MiB); kept,
    # ~0, but after other tests a step may still find one 2.4 MB copy's chunk taken (~600 faults)
    steady = sorted(faults[-5:])
    assert steady[2] < 200 and steady[-1] < 2000, faults
    release_free_memory()  # and the free memory can still be handed back


def test_kernel_caches_are_capped_unless_the_user_set_them(monkeypatch):
    monkeypatch.delenv("ONEDNN_PRIMITIVE_CACHE_CAPACITY", raising=False)
    monkeypatch.setenv("LRU_CACHE_CAPACITY", "5")
    cap_kernel_caches()
    assert os.environ["ONEDNN_PRIMITIVE_CACHE_CAPACITY"] == "64"
    assert os.environ["LRU_CACHE_CAPACITY"] == "5"  # the user's own setting stays


_SHAPES_SCRIPT = """
import sys, torch
from finegrain.training.allocator import cap_kernel_caches
from finegrain.training.memory import heap_in_use_mb
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
    import subprocess
    import sys

    from finegrain.training.memory import heap_in_use_mb

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
