"""Few-shot baselines through finegrain itself: setfit vs embeddings-lr vs tfidf on tweet-sentiment
with K training examples per class (stratified, per seed), default model, method defaults.

Evaluated on a fixed stratified 600-tweet sample of each of the validation and test splits (so a
run takes about a minute on 2 CPU cores); the numbers are test macro-F1 and accuracy.

    python benchmarks/fewshot.py --per-class 8 --seeds 0 1
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import finegrain
from finegrain.data.sources import load_source

COLUMNS = {"text": "text", "label": "label"}


def sample_split(role: str, n: int, folder: Path) -> str:
    """A fixed stratified sample of the built-in's ``role`` split, as a jsonl file (tweets hold newlines)."""
    frame = load_source("tweet-sentiment", role, COLUMNS).frame[["text", "label"]]
    share = n / len(frame)
    sample = frame.groupby("label", group_keys=False).sample(frac=share, random_state=0)
    path = folder / f"{role}.jsonl"
    sample.to_json(path, orient="records", lines=True, force_ascii=False)
    return str(path)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--per-class", type=int, default=8)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    parser.add_argument("--methods", nargs="+", default=["tfidf", "embeddings-lr", "setfit"])
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as workdir:
        folder = Path(workdir)
        data = {"train": "tweet-sentiment", "validation": sample_split("validation", 600, folder),
                "test": sample_split("test", 600, folder), "max_train_examples": 3 * args.per_class}
        for method in args.methods:
            scores = []
            for seed in args.seeds:
                started = time.perf_counter()
                result = finegrain.train({"method": method, "data": data, "train": {"seed": seed},
                                          "output": str(folder / f"{method}-{seed}")})
                test = result.metrics["test"]
                scores.append(test["macro_f1"])
                print(f"{method:14s} seed {seed}: test macro-F1 {test['macro_f1']:.4f} accuracy {test['accuracy']:.4f}"
                      f" ({time.perf_counter() - started:.0f} s)", flush=True)
            print(f"{method:14s} mean macro-F1 over {len(scores)} seeds: {statistics.mean(scores):.4f}", flush=True)


if __name__ == "__main__":
    main()
