"""Does each CPU speed-up still pay? Paired trainings with every speed-up on, and with all but one.

For each speed-up of ``finegrain.training.speedups.SPEEDUPS``, the same short run (tweet-sentiment
subset, the default MiniLM model, 1 epoch, batch 16) trains with every speed-up on ("all") and with
every one but that one ("without"), each in a process of its own, so that nothing one sets reaches
the other. The two processes take turns of a few seconds (benchmarks/turns.py),
so the machine's drift falls on both alike, and the pairs alternate which one starts (A B, B A, ...).
Each process warms up first (a few untimed steps: a process's first training pays one-time costs); a
training's time is its loop steps' time less the time it was stopped. Per speed-up: the ratio
without / all of each pair (above 1: the speed-up pays), their median and spread (min to max), and
the versions it ran on. The bar for keeping a speed-up: a median of at least ~1.03. Speed-ups that
stand in for each other are measured left out together (``--only a+b``).

    python benchmarks/speedups_ab.py --n-train 800 --pairs 6           # the measurement (quiet machine)
    python benchmarks/speedups_ab.py --only cpu_dropout,fused_layers,cpu_dropout+fused_layers --pairs 4
    python benchmarks/speedups_ab.py --n-train 64 --max-steps 3 --pairs 1 --turn-seconds 1   # smoke test
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import tempfile
from pathlib import Path

import finegrain
from finegrain.training.run_record import library_versions
from finegrain.training.speedups import SPEEDUPS, disabled
from setting_ab import base_config
from turns import record_finegrain_steps, running_seconds, take_turns

ALL = "all"  # the name of the run with every speed-up on


def one(config_path: str, without: str) -> None:
    """One training in this process (a warm-up first), printed as JSON: the start and end of each step."""
    config = json.loads(Path(config_path).read_text(encoding="utf-8"))
    names = () if without == ALL else tuple(without.split("+"))
    with tempfile.TemporaryDirectory() as workdir, disabled(*names):
        warm = {**config, "train": {**config["train"], "max_steps": 3}, "output": f"{workdir}/warm"}
        finegrain.train(warm, overwrite=True)
        windows = record_finegrain_steps()
        finegrain.train({**config, "output": f"{workdir}/run"}, overwrite=True)
    print(json.dumps({"windows": windows}))


def pair(config_path: str, name: str, index: int, turn_seconds: float) -> float:
    """Seconds of training without ``name`` / with every speed-up, one pair; who starts alternates."""
    order = [ALL, name] if index % 2 == 0 else [name, ALL]
    commands = [[sys.executable, __file__, "--one", run, "--config", config_path] for run in order]
    seconds = {run: running_seconds(result["windows"], stopped)
               for run, (result, stopped) in zip(order, take_turns(commands, turn_seconds))}
    return seconds[name] / seconds[ALL]


def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n-train", type=int, default=800, help="training examples (1 epoch)")
    parser.add_argument("--task", choices=("classification", "ner"), default="classification")
    parser.add_argument("--max-steps", type=int, help="stop each training here (smoke tests)")
    parser.add_argument("--pairs", type=int, default=6, help="paired runs per speed-up")
    parser.add_argument("--turn-seconds", type=float, default=5.0, help="how long each process runs per turn")
    parser.add_argument("--only", help="comma-separated speed-ups to measure (default: all of them); "
                        "a+b measures a and b left out together (speed-ups that stand in for each other)")
    parser.add_argument("--one", help=argparse.SUPPRESS)  # internal: one training, without this speed-up
    parser.add_argument("--config", help=argparse.SUPPRESS)  # internal: the run's config (JSON)
    args = parser.parse_args()
    if args.one:
        return one(args.config, args.one)
    known = [speedup.name for speedup in SPEEDUPS]
    names = args.only.split(",") if args.only else known
    unknown = {part for name in names for part in name.split("+")} - set(known)
    if unknown:
        parser.error(f"unknown speed-ups {sorted(unknown)}; choose from {', '.join(known)}")
    with tempfile.TemporaryDirectory() as workdir:
        config = base_config(argparse.Namespace(task=args.task, n_train=args.n_train), workdir)
        if args.max_steps:
            config["train"]["max_steps"] = args.max_steps
        config_path = str(Path(workdir) / "config.json")
        Path(config_path).write_text(json.dumps(config), encoding="utf-8")
        ratios: dict[str, list[float]] = {name: [] for name in names}
        for index in range(args.pairs):
            for name in names:
                ratios[name].append(pair(config_path, name, index, args.turn_seconds))
                print(f"pair {index}: without {name} / all = {ratios[name][-1]:.3f}", flush=True)
    report(args, ratios)


def report(args: argparse.Namespace, ratios: dict[str, list[float]]) -> None:
    steps = f"{args.max_steps} steps" if args.max_steps else "1 epoch"
    print(f"\n{args.task}, {args.n_train} training examples x {steps}, batch 16, default model, "
          f"{args.pairs} pair(s) per speed-up, turns of {args.turn_seconds:g} s")
    print("versions: " + ", ".join(f"{k} {v}" for k, v in library_versions().items()) + f"; CPU {cpu_name()}")
    for name, values in ratios.items():
        median = statistics.median(values)
        print(f"{name:20s} without / all: median {median:.3f} (min {min(values):.3f}, max {max(values):.3f}; "
              f"{sum(v > 1 for v in values)} of {len(values)} pairs slower without)  "
              f"{'keep' if median >= 1.03 else 'below the ~1.03 bar'}")


if __name__ == "__main__":
    main()
