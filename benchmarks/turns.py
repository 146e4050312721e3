"""Two trainings timed under the same machine conditions: in two processes that take turns.

A whole training run takes minutes, and this machine's speed drifts by 5-10% over minutes (other
guests on the host), so two runs one after the other can differ by that much for no reason of
their own. Here the two processes run alternately, a few seconds each: while one runs, the other
is stopped (SIGSTOP, then SIGCONT), so any drift slower than a turn falls on both alike.

Each process records the start and end of every training step on the system's monotonic clock
(``time.perf_counter``, shared by all processes on Linux); the parent records when it stopped and
resumed each process. A training's time is the sum of its steps' durations less the time it was
stopped inside them: the steps alone, without data loading between them, on both sides alike.

Linux only (SIGSTOP/SIGCONT and a process-wide monotonic clock).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import tempfile
import time
from pathlib import Path

__all__ = ["take_turns", "running_seconds", "record_finegrain_steps", "trainer_step_callback"]


def take_turns(commands: list[list[str]], turn_seconds: float) -> list[tuple[dict, list[tuple[float, float]]]]:
    """Run ``commands`` one at a time in turns of ``turn_seconds``; each prints one JSON line last.

    Returns, per command, its JSON (parsed) and the intervals during which it was stopped.
    """
    with tempfile.TemporaryDirectory() as tmp:
        logs = [Path(tmp) / f"out{i}.txt" for i in range(len(commands))]
        processes = []
        stopped: list[list[tuple[float, float]]] = [[] for _ in commands]
        since: list[float | None] = [None] * len(commands)
        for i, (command, log) in enumerate(zip(commands, logs)):
            with open(log, "w") as handle:
                processes.append(subprocess.Popen(command, stdout=handle, stderr=subprocess.STDOUT))
            if i:  # only the first one runs at first
                os.kill(processes[i].pid, signal.SIGSTOP)
                since[i] = time.perf_counter()
        current = 0
        try:
            while any(p.poll() is None for p in processes):
                process = processes[current]
                if process.poll() is None:
                    if since[current] is not None:
                        os.kill(process.pid, signal.SIGCONT)
                        stopped[current].append((since[current], time.perf_counter()))
                        since[current] = None
                    try:
                        process.wait(timeout=turn_seconds)
                    except subprocess.TimeoutExpired:
                        if any(p.poll() is None for j, p in enumerate(processes) if j != current):
                            os.kill(process.pid, signal.SIGSTOP)
                            since[current] = time.perf_counter()
                current = (current + 1) % len(processes)
        except BaseException:  # interrupted: leave no stopped process behind
            for process in processes:
                if process.poll() is None:
                    os.kill(process.pid, signal.SIGCONT)
                    process.kill()
            raise
        results = []
        for process, log, command, pauses in zip(processes, logs, commands, stopped):
            text = log.read_text(encoding="utf-8", errors="replace")
            if process.returncode != 0:
                raise RuntimeError(f"{' '.join(command)} failed ({process.returncode}):\n{text[-3000:]}")
            line = next(line for line in reversed(text.splitlines()) if line.startswith("{"))
            results.append((json.loads(line), pauses))
        return results


def running_seconds(windows: list[tuple[float, float]], stopped: list[tuple[float, float]]) -> float:
    """Total time inside ``windows`` less its overlap with the ``stopped`` intervals."""
    total = sum(end - start for start, end in windows)
    for start, end in windows:
        for pause_start, pause_end in stopped:
            total -= max(0.0, min(end, pause_end) - max(start, pause_start))
    return total


def record_finegrain_steps() -> list[tuple[float, float]]:
    """Start and end of every step of finegrain's training loop in this process, from now on."""
    from finegrain.training import loop

    windows: list[tuple[float, float]] = []
    step = loop._train_step

    def timed(*args, **kwargs):
        started = time.perf_counter()
        try:
            return step(*args, **kwargs)
        finally:
            windows.append((started, time.perf_counter()))

    loop._train_step = timed
    return windows


def trainer_step_callback():
    """A Trainer callback and the list it fills with each step's start and end (step begin to step end)."""
    from transformers import TrainerCallback

    windows: list[tuple[float, float]] = []

    class StepWindows(TrainerCallback):
        started = 0.0

        def on_step_begin(self, args, state, control, **kwargs):
            self.started = time.perf_counter()

        def on_step_end(self, args, state, control, **kwargs):
            windows.append((self.started, time.perf_counter()))

    return StepWindows(), windows
