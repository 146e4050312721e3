"""Paired A/B of one finegrain setting: runs with it on and off alternate in one process.

This VM's speed drifts from minute to minute by more than most single changes are worth, so two
runs measured minutes apart say little. Here the two settings alternate (on/off, then off/on, ...)
with short runs, and each pair gives a ratio; the median of the pairs and how many pairs favour
the setting are printed. Training speed is the loop's own samples/s (evaluation excluded); the
validation and test splits are cut to 64 texts so that most of the wall time is training.

    python benchmarks/setting_ab.py --setting train.group_by_length --n-train 1200 --pairs 6
    python benchmarks/setting_ab.py --setting train.group_by_length --task ner --pairs 5

The CPU speed-ups (one switch, train.cpu_speedups) are measured one by one with benchmarks/speedups_ab.py.
"""

from __future__ import annotations

import argparse
import copy
import csv
import json
import statistics
import tempfile
from pathlib import Path

import finegrain
from common import builtin_data


def write_split(path: Path, texts: list[str], labels: list[int], names: list[str]) -> str:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["text", "label"])
        writer.writerows([text, names[label]] for text, label in zip(texts, labels))
    return str(path)


def base_config(args, workdir: str) -> dict:
    if args.task == "ner":  # tweet-ner's own validation and test splits hold 240 tweets each
        return {"task": {"name": "ner"}, "model": {"name": "default", "max_length": 128},
                "data": {"train": "tweet-ner", "max_train_examples": args.n_train},
                "train": {"batch_size": 16, "seed": 0, "log_every": 50, "epochs": 1}}
    data = builtin_data("tweet-sentiment", args.n_train)
    files = {split: write_split(Path(workdir) / f"{split}.csv", data[split][0][:keep], data[split][1][:keep],
                                data["labels"])
             for split, keep in (("train", None), ("validation", 64), ("test", 64))}
    return {"model": {"name": "default", "max_length": 128}, "data": files,
            "train": {"batch_size": 16, "lr": 5e-5, "seed": 0, "log_every": 50, "epochs": 1}}


def run(config: dict, setting: str, value: bool, output: str) -> float:
    section, key = setting.split(".")
    config = copy.deepcopy(config)
    config[section][key] = value
    result = finegrain.train({**config, "output": output}, overwrite=True)
    return json.loads((result.run_dir / "run.json").read_text())["timing"]["samples_per_second"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--setting", required=True, help="a boolean setting, SECTION.KEY (train.group_by_length)")
    parser.add_argument("--task", choices=("classification", "ner"), default="classification")
    parser.add_argument("--n-train", type=int, default=1200)
    parser.add_argument("--pairs", type=int, default=6)
    args = parser.parse_args()
    speeds: dict[bool, list[float]] = {True: [], False: []}
    with tempfile.TemporaryDirectory() as workdir:
        config = base_config(args, workdir)
        warm = copy.deepcopy(config)
        warm["train"]["max_steps"] = 10  # untimed: the process's first training pays one-time costs
        finegrain.train({**warm, "output": f"{workdir}/warm"}, overwrite=True)
        for pair in range(args.pairs):
            for value in ((True, False) if pair % 2 == 0 else (False, True)):
                speeds[value].append(run(config, args.setting, value, f"{workdir}/{value}"))
                print(f"pair {pair}: {args.setting}={value} {speeds[value][-1]:.1f} samples/s", flush=True)
    ratios = [on / off for on, off in zip(speeds[True], speeds[False])]
    print(f"\n{args.task}, {args.n_train} training examples x 1 epoch, batch 16, {args.pairs} alternating pairs")
    for value in (True, False):
        print(f"{args.setting}={value}: median {statistics.median(speeds[value]):.1f} samples/s, runs "
              + ", ".join(f"{s:.1f}" for s in speeds[value]))
    print(f"paired ratios on/off: {', '.join(f'{r:.3f}' for r in ratios)}; median {statistics.median(ratios):.3f}; "
          f"{sum(r > 1 for r in ratios)} of {len(ratios)} pairs faster with it on")


if __name__ == "__main__":
    main()
