"""Learning-rate sweep per adaptation method: where each method's ``default_lr`` comes from.

For every method, train on a stratified sample of ``tweet-sentiment``'s training split at
``default_lr`` x each multiplier, and score the best epoch on a fixed stratified sample of the
built-in *validation* split (never the test split: these numbers choose a hyper-parameter).
Prints one row per method: validation macro-F1 at each lr and the best lr; writes
``benchmarks/results/lr_sweep.json``.

    python benchmarks/lr_sweep.py                                  # the measurement in README.md
    python benchmarks/lr_sweep.py --methods lora,bitfit --n-train 300 --epochs 1   # a smoke run
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import pandas as pd  # noqa: E402

import finegrain  # noqa: E402
from finegrain.data.sources import load_splits  # noqa: E402
from finegrain.registry import METHODS  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"
NEURAL = ("full", "freeze", "linear-probe", "bitfit", "lora", "adalora", "ia3", "prefix", "prompt", "adapter")


def write_samples(folder: Path, n_train: int, n_validation: int, seed: int) -> tuple[Path, Path]:
    """Stratified samples of the built-in train and validation splits, as jsonl files."""
    splits = load_splits("tweet-sentiment", None, None, columns={"text": "text", "label": "label"},
                         stratify="label", validation_fraction=0.1, max_train_examples=n_train, seed=seed)
    validation = splits["validation"].frame
    share = min(1.0, n_validation / len(validation))
    keep = validation.groupby("label").sample(frac=share, random_state=seed).index
    validation = validation.loc[sorted(keep)]
    paths = folder / "train.jsonl", folder / "validation.jsonl"
    for frame, path in zip((splits["train"].frame, validation), paths):
        pd.DataFrame({"text": frame["text"], "label": frame["label"]}).to_json(path, orient="records", lines=True)
    return paths


def run(method: str, lr: float, train: Path, validation: Path, epochs: float, output: str) -> dict:
    config = {"method": method, "model": {"name": "default", "max_length": 128},
              "data": {"train": str(train), "validation": str(validation)},
              "train": {"epochs": epochs, "lr": lr, "seed": 0, "log_every": 100}, "output": output}
    started = time.perf_counter()
    result = finegrain.train(config, overwrite=True)
    return {"lr": lr, "macro_f1": result.metrics["validation"]["macro_f1"],
            "accuracy": result.metrics["validation"]["accuracy"], "seconds": time.perf_counter() - started}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--methods", default=",".join(NEURAL))
    parser.add_argument("--multipliers", default="0.3,1,3", help="of each method's default_lr")
    parser.add_argument("--n-train", type=int, default=2000)
    parser.add_argument("--n-validation", type=int, default=1000)
    parser.add_argument("--epochs", type=float, default=2)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    multipliers = [float(m) for m in args.multipliers.split(",")]
    results = {}
    with tempfile.TemporaryDirectory() as workdir:
        train, validation = write_samples(Path(workdir), args.n_train, args.n_validation, args.seed)
        for method in [m.strip() for m in args.methods.split(",") if m.strip()]:
            default = METHODS.get(method).default_lr
            rows = [run(method, default * m, train, validation, args.epochs, f"{workdir}/{method}-{m}")
                    for m in multipliers]
            best = max(rows, key=lambda r: r["macro_f1"])
            results[method] = {"default_lr": default, "runs": rows, "best_lr": best["lr"]}
            cells = "  ".join(f"lr {r['lr']:.2g}: {r['macro_f1']:.4f}" for r in rows)
            print(f"{method:13s} {cells}  best {best['lr']:.2g} (default {default:.2g})", flush=True)
    RESULTS.mkdir(parents=True, exist_ok=True)
    settings = {k: getattr(args, k) for k in ("n_train", "n_validation", "epochs", "seed")}
    path = RESULTS / "lr_sweep.json"
    path.write_text(json.dumps({"settings": settings, "multipliers": multipliers, "methods": results}, indent=2) + "\n")
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
