"""train.adversarial on tweet-sentiment: full fine-tuning plain and with each defence (FGM, PGD, FreeLB, R-Drop).

Each arm trains in a fresh process with the same data, seed and settings; the table gives the test macro-F1
and accuracy, the character attack's success rate (``finegrain robustness RUN --attack char`` on the first
``--attack-limit`` test texts), seconds per optimizer step, its ratio to the plain arm's, and the ratio each
run measured for itself (run.json's ``adversarial.slowdown``: its own plain forward and backward pass timed in
the same run; R-Drop has none). Issue 25's goal: the best defence lowers the character attack's success rate
by 10 points at no more than 1 point of clean macro-F1. Writes OUTPUT/defences.json (each arm's run directory,
with its robustness.json, is under OUTPUT too).

Example (a smoke run; the measurement is run alone on a quiet machine, see benchmarks/README.md):
    python benchmarks/defences.py --n-train 48 --n-eval 24 --max-steps 2 --max-length 32 --attack-limit 8 --arms plain,fgm
    python benchmarks/defences.py --n-train 2000 --epochs 1 --n-eval 1000   # the measurement (results/defences.txt)
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import io
import json
import multiprocessing
import os
import sys
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import builtin_data, row, transformers_version  # noqa: E402

from finegrain.data.sampling import spread_positions  # noqa: E402

ARMS = ("plain", "fgm", "pgd", "freelb", "rdrop")
COLUMNS = ("arm", "test macro-F1", "accuracy", "char attack success", "s/step", "x plain", "in-run x", "fwd/bwd per batch")


def write_eval_splits(folder: Path, n_train: int | None, n_eval: int | None, seed: int) -> dict[str, str]:
    """The built-in's validation and test splits (``n_eval`` rows of each, a seeded random sample: the
    built-in stores them sorted by label) as CSV files: every arm reads the same ones."""
    data = builtin_data("tweet-sentiment", n_train, seed=seed)
    folder.mkdir(parents=True, exist_ok=True)
    paths = {}
    for split in ("validation", "test"):
        texts, labels = data[split]
        path = folder / f"{split}.csv"
        with path.open("w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            writer.writerow(["text", "label"])
            rows = list(zip(texts, labels))
            if n_eval is not None:
                rows = [rows[i] for i in spread_positions(len(rows), n_eval, seed)]
            writer.writerows([text, data["labels"][label]] for text, label in rows)
        paths[split] = str(path)
    return paths


def attack_success(run_dir: Path, limit: int) -> float | None:
    """The character attack's success rate on the run's first ``limit`` test texts, through the CLI; None: skipped."""
    from finegrain.cli.main import main as cli

    if limit <= 0:
        return None
    with contextlib.redirect_stdout(io.StringIO()):  # its report table: the result is read from robustness.json
        code = cli(["robustness", str(run_dir), "--attack", "char", "--limit", str(limit)])
    if code != 0:
        raise SystemExit(f"finegrain robustness {run_dir} failed (exit {code})")
    result = json.loads((run_dir / "robustness.json").read_text(encoding="utf-8"))
    return result["attacks"]["char"]["success_rate"]


def run_arm(arm: str, data: dict[str, Any], train: dict[str, Any], model: str, max_length: int,
            output: str, attack_limit: int) -> dict[str, Any]:
    """Train one arm, attack it, and return its row (runs in a child process)."""
    import finegrain

    name, _, given = arm.partition(":")  # fgm:epsilon=0.3,alpha=0.1 sets the defence's own parameters
    settings = dict(item.split("=", 1) for item in given.split(",") if item)
    adversarial = None if name == "plain" else {"name": name, **{k: float(v) for k, v in settings.items()}}
    config = {"method": "full", "model": {"name": model, "max_length": max_length}, "data": data,
              "train": {**train, "adversarial": adversarial}, "output": output}
    result = finegrain.train(config, overwrite=True)
    info = json.loads((result.run_dir / "run.json").read_text(encoding="utf-8"))
    test = result.metrics.get("test") or result.metrics["validation"]
    cost = info.get("adversarial") or {}
    return {"arm": arm, "macro_f1": test["macro_f1"], "accuracy": test["accuracy"],
            "char_attack_success": attack_success(result.run_dir, attack_limit),
            "seconds_per_step": info["timing"]["train_seconds"] / max(info["steps"], 1),
            "in_run_slowdown": cost.get("slowdown"), "passes": (cost.get("forward_passes_per_batch", 1),
                                                                 cost.get("backward_passes_per_batch", 1)),
            "adversarial": cost or None, "run_dir": str(result.run_dir)}


def run_isolated(*args: Any) -> dict[str, Any]:
    """``run_arm`` in a fresh spawned process: nothing another arm left behind counts in its time."""
    with ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn")) as pool:
        return pool.submit(run_arm, *args).result()


def table(rows: list[dict[str, Any]]) -> list[str]:
    plain = next((r["seconds_per_step"] for r in rows if r["arm"] == "plain"), None)
    widths = [max(len(c), 10) for c in COLUMNS]
    lines = [row(list(COLUMNS), widths)]
    for r in rows:
        ratio = f"{r['seconds_per_step'] / plain:.2f}" if plain else "-"
        slowdown = "-" if r["in_run_slowdown"] is None else f"{r['in_run_slowdown']:.2f}"
        attacked = "-" if r["char_attack_success"] is None else f"{r['char_attack_success']:.3f}"
        lines.append(row([r["arm"], f"{r['macro_f1']:.4f}", f"{r['accuracy']:.4f}", attacked,
                          f"{r['seconds_per_step']:.3f}",
                          ratio, slowdown, "{}/{}".format(*r["passes"])], widths))
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--arms", default=",".join(ARMS),
                        help=f"comma-separated, of {', '.join(ARMS)}; with parameters, semicolon-separated:"
                             " 'plain;fgm:epsilon=0.3;pgd:epsilon=0.3,alpha=0.1'")
    parser.add_argument("--n-train", type=int, default=4000)
    parser.add_argument("--n-eval", type=int, default=None, help="validation and test texts (default: all)")
    parser.add_argument("--epochs", type=float, default=2.0)
    parser.add_argument("--max-steps", type=int, default=None, help="overrides --epochs (smoke runs)")
    parser.add_argument("--model", default="default")
    parser.add_argument("--max-length", type=int, default=128)
    parser.add_argument("--attack-limit", type=int, default=200, help="test texts attacked (0: no attack)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--output", default="runs/defences")
    args = parser.parse_args()
    arms = [arm for arm in args.arms.split(";" if ";" in args.arms else ",") if arm]
    unknown = [arm for arm in arms if arm.partition(":")[0] not in ARMS]
    if unknown:
        parser.error(f"unknown arm(s) {', '.join(unknown)}; valid: {', '.join(ARMS)}")
    output = Path(args.output)
    data = {"train": "tweet-sentiment", "max_train_examples": args.n_train,
            **write_eval_splits(output / "data", args.n_train, args.n_eval, args.seed)}
    train = {"seed": args.seed, "batch_size": 16, "epochs": args.epochs, "max_steps": args.max_steps}
    print(f"# python benchmarks/{Path(sys.argv[0]).name} {' '.join(sys.argv[1:])}  (transformers {transformers_version()})")
    rows = [run_isolated(arm, data, train, args.model, args.max_length, str(output / arm.replace(":", "-")),
                         args.attack_limit) for arm in arms]
    print("\n".join(table(rows)))
    (output / "defences.json").write_text(json.dumps({"argv": sys.argv, "rows": rows}, indent=2), encoding="utf-8")


if __name__ == "__main__":
    main()
