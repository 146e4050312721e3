"""The demo study on a local Ray cluster (W workers x 1 thread) against the local executor (W threads): wall
times, per-cell times, and whether every cell's test metrics are the same.

Each side runs in a fresh process (so neither inherits the other's threads or warm caches), local first.
A cell's figures can differ in the last digits between 1 and 2 threads (float sums in another order);
the script prints how many cells are identical and the largest difference of the primary score.

    python benchmarks/ray_study.py                                    # the measurement (two demo studies)
    python benchmarks/ray_study.py sizes=[8] seeds=[0] methods=[tfidf,full] test_examples=100 train.epochs=1
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def run_side(side: str, study: str, overrides: list[str], output: Path, workers: int) -> None:
    """In this (fresh) process: one side of the comparison."""
    import torch

    from finegrain.study import run_study

    overrides = [*overrides, f"output={output}"]
    if side == "local":
        torch.set_num_threads(workers)
        run_study(study, overrides)
        return
    import ray

    ray.init(num_cpus=workers, include_dashboard=False, log_to_driver=False, logging_level="WARNING")
    try:
        run_study(study, [*overrides, "executor.name=ray", "executor.cpus=1"])
    finally:
        ray.shutdown()


def timed_side(side: str, args: argparse.Namespace, output: Path) -> float:
    started = time.perf_counter()
    command = [sys.executable, __file__, "--side", side, "--study", args.study, "--workers", str(args.workers),
               "--output", str(output), *args.overrides]
    subprocess.run(command, check=True)
    return time.perf_counter() - started


def cells(root: Path) -> dict[str, dict]:
    return {str(path.parent.relative_to(root / "cells")): json.loads(path.read_text())
            for path in sorted(root.glob("cells/*/*/*/cell.json"))}


def compare(local: dict[str, dict], on_ray: dict[str, dict]) -> None:
    same = sum(local[name]["test"] == on_ray[name].get("test") for name in local)
    differences = [abs(value - on_ray[name]["test"][key]) for name in local if "test" in on_ray.get(name, {})
                   for key, value in local[name].get("test", {}).items() if isinstance(value, float)]
    print(f"cells with identical test metrics: {same} of {len(local)}; largest difference of any test metric "
          f"{max(differences, default=0.0):.6f}")
    print(f"{'cell':34s} {'local s':>8s} {'ray s':>8s} {'local score':>12s} {'ray score':>10s}")
    for name in local:
        print(f"{name:34s} {local[name].get('wall_seconds', 0):8.1f} {on_ray[name].get('wall_seconds', 0):8.1f} "
              f"{local[name].get('score', float('nan')):12.4f} {on_ray[name].get('score', float('nan')):10.4f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("overrides", nargs="*", help="dotted overrides of the study (e.g. sizes=[8] seeds=[0])")
    parser.add_argument("--study", default="configs/study-demo.yaml")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--side", choices=["local", "ray"], help=argparse.SUPPRESS)
    parser.add_argument("--output", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.side:
        run_side(args.side, args.study, args.overrides, Path(args.output), args.workers)
        return
    with tempfile.TemporaryDirectory() as workdir:
        walls = {side: timed_side(side, args, Path(workdir) / side) for side in ("local", "ray")}
        local, on_ray = cells(Path(workdir) / "local"), cells(Path(workdir) / "ray")
    import ray
    import torch

    print(f"study {args.study} {' '.join(args.overrides)}; torch {torch.__version__}, ray {ray.__version__}")
    print(f"local, {args.workers} threads: {walls['local']:.1f} s; ray, {args.workers} workers x 1 thread: "
          f"{walls['ray']:.1f} s (ratio {walls['local'] / walls['ray']:.2f}x)")
    compare(local, on_ray)
    total = sum(record.get("wall_seconds", 0) for record in on_ray.values())
    longest = max((record.get("wall_seconds", 0) for record in on_ray.values()), default=0)
    print(f"ray cells: {total:.0f} s of work, the longest {longest:.0f} s: with N workers of one core each, expect "
          f"about max({total:.0f}/N, {longest:.0f}) s plus Ray's start and one process start per cell")


if __name__ == "__main__":
    main()
