"""benchmarks/turns.py: processes that take turns, and the time each spent running inside its steps."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
from turns import running_seconds, take_turns  # noqa: E402


def test_time_stopped_inside_a_step_is_not_counted():
    windows = [(0.0, 2.0), (3.0, 5.0)]
    stopped = [(1.0, 1.5), (2.5, 3.5), (4.9, 9.0)]  # half a second inside the first, 0.5 and 0.1 in the second
    assert running_seconds(windows, stopped) == pytest.approx(4.0 - 0.5 - 0.5 - 0.1)
    assert running_seconds(windows, []) == pytest.approx(4.0)


_CHILD = """
import json, sys, time
steps, cpu = [], time.process_time()
for _ in range({steps}):
    start = time.perf_counter()
    sum(range({work}))  # a fixed amount of work, as a training step is
    steps.append((start, time.perf_counter()))
print("noise")
print(json.dumps({{"name": sys.argv[1], "windows": steps, "cpu": time.process_time() - cpu}}))
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="SIGSTOP/SIGCONT and a shared monotonic clock")
def test_two_processes_never_run_at_once_and_each_is_timed_by_its_own_work():
    commands = [[sys.executable, "-c", _CHILD.format(steps=8, work=2_000_000), name] for name in ("a", "b")]
    started = time.perf_counter()
    (a, a_stopped), (b, b_stopped) = take_turns(commands, turn_seconds=0.05)
    assert (a["name"], b["name"]) == ("a", "b")
    assert a_stopped and b_stopped  # each was stopped while the other ran
    # whenever both were inside a step, one of them was stopped
    for start, end in a["windows"]:
        for b_start, b_end in b["windows"]:
            both = [(max(start, b_start), min(end, b_end))]
            if both[0][0] < both[0][1]:
                assert running_seconds(both, a_stopped + b_stopped) < 0.01
    # a process used no CPU while it was stopped: its running time is at least the CPU time it used
    # (more only if something else took the CPU), while its steps' wall time counts the stops too
    for result, stopped in ((a, a_stopped), (b, b_stopped)):
        running = running_seconds(result["windows"], stopped)
        assert 0.8 * result["cpu"] - 0.005 <= running < sum(end - start for start, end in result["windows"])
    assert time.perf_counter() - started < 30


def test_a_failing_process_is_reported_with_its_output():
    commands = [[sys.executable, "-c", "import sys; print('bad input at line 3'); sys.exit(3)"],
                [sys.executable, "-c", "print('{}')"]]
    with pytest.raises(RuntimeError, match="bad input at line 3"):
        take_turns(commands, turn_seconds=0.1)
