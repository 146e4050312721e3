"""finegrain's CPU allocator setting: a training-like step reuses freed memory without page faults."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from finegrain.training.allocator import cap_kernel_caches


_STEPS_SCRIPT = """
import resource, sys, torch
from finegrain.training.allocator import keep_freed_memory, release_free_memory
if sys.argv[1] == "keep" and not keep_freed_memory():
    print("not glibc")
    sys.exit(0)
def step():  # the allocation pattern of a CPU training step
    gradient = torch.zeros(12 * 2**20)  # 48 MiB, like MiniLM's word-embedding gradient: above any mmap threshold
    copies = [torch.ones(600_000) for _ in range(6)]  # like autocast's bf16 copies of the weights
    del gradient, copies
faults = []
for _ in range(8):
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    step()
    faults.append(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
release_free_memory()  # and the free memory can still be handed back
print(" ".join(map(str, faults)))
"""


def _step_faults(tmp_path, mode: str) -> list[int] | None:
    """Page faults of 8 steps in a fresh process: what earlier tests left in this one's heap plays no part."""
    script = tmp_path / "steps.py"
    script.write_text(_STEPS_SCRIPT)
    done = subprocess.run([sys.executable, str(script), mode], capture_output=True, text=True, check=True)
    last = done.stdout.strip().splitlines()[-1]
    return None if last == "not glibc" else [int(value) for value in last.split()]


def test_steps_reuse_freed_memory_without_page_faults(tmp_path):
    kept = _step_faults(tmp_path, "keep")
    if kept is None:
        pytest.skip("not glibc: the setting does not apply")
    assert max(kept[-3:]) < 200, kept  # kept: ~0 once the first step has touched its pages
    system = _step_faults(tmp_path, "system")
    assert min(system[-3:]) > 5_000, system  # the system's policy: fresh pages for the 48 MiB every step


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
