"""The allocator speed-up: a training-like step reuses freed memory without page faults."""

from __future__ import annotations

import subprocess
import sys

import pytest

_STEPS_SCRIPT = """
import resource, sys, torch
from finegrain.training.memory import release_free_memory
from finegrain.training.speedups.allocator import keep_freed_memory
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
