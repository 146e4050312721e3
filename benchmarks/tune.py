"""``finegrain tune`` against the default recipe on a ``tweet-sentiment`` subset (issue 26's measurement).

Both train on the same stratified sample of the training split, select on the same validation sample and are
scored on the same test sample. The default recipe is ``finegrain train`` with nothing but the data set; the
tune searches the default space (lr, epochs, batch size, warmup, weight decay, class weights) for
``--trials`` trials, then trains its best trial again (the only tuned run that reads test). Prints validation
and test macro-F1 and wall time of each; writes ``benchmarks/results/tune.json`` (or ``--results``).

    python benchmarks/tune.py                                          # the measurement: 20 trials, 2,000 examples
    python benchmarks/tune.py --trials 2 --n-train 100 --n-eval 100 --results /tmp/tune.json   # a smoke run
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

sys.path.insert(0, str(Path(__file__).resolve().parent))

import pandas as pd  # noqa: E402

import finegrain  # noqa: E402
from finegrain.data.sampling import stratified_subsample  # noqa: E402
from finegrain.data.sources import load_splits  # noqa: E402
from finegrain.tune import load_tune_spec, run_tune  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results" / "tune.json"


def write_samples(folder: Path, n_train: int, n_eval: int, seed: int) -> dict[str, str]:
    """Stratified samples of the built-in train, validation and test splits, as jsonl files."""
    splits = load_splits("tweet-sentiment", None, None, columns={"text": "text", "label": "label"},
                         stratify="label", validation_fraction=0.1, max_train_examples=n_train, seed=seed)
    paths = {}
    for name, split in splits.items():
        frame = split.frame
        if name != "train" and n_eval < len(frame):
            frame = stratified_subsample(frame, "label", n_eval, seed)
        paths[name] = str(folder / f"{name}.jsonl")
        pd.DataFrame({"text": frame["text"], "label": frame["label"]}).to_json(paths[name], orient="records",
                                                                                lines=True)
    return paths


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--trials", type=int, default=20)
    parser.add_argument("--timeout", default=None, help="the tune's time budget, e.g. 2h (none by default)")
    parser.add_argument("--n-train", type=int, default=2000)
    parser.add_argument("--n-eval", type=int, default=2000, help="validation and test examples (each)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--results", type=Path, default=RESULTS)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as workdir:
        data = write_samples(Path(workdir), args.n_train, args.n_eval, args.seed)
        base = {"data": data, "train": {"seed": args.seed, "log_every": 100}, "output": f"{workdir}/default"}
        started = time.perf_counter()
        default = finegrain.train(base).metrics
        default_seconds = time.perf_counter() - started
        started = time.perf_counter()
        tuned = run_tune(load_tune_spec(base, trials=args.trials, timeout=args.timeout)).summary
        tune_seconds = time.perf_counter() - started
    result = {"n_train": args.n_train, "n_eval": args.n_eval, "trials": args.trials,
              "default": {"validation_macro_f1": default["validation"]["macro_f1"],
                          "test_macro_f1": default["test"]["macro_f1"], "wall_seconds": round(default_seconds, 1)},
              "tune": {"validation_macro_f1": tuned["best"]["validation"]["macro_f1"],
                       "test_macro_f1": tuned["best"]["test"]["macro_f1"], "wall_seconds": round(tune_seconds, 1),
                       "counts": tuned["counts"], "best_params": tuned["best"]["params"],
                       "importances": tuned["importances"]}}
    for name in ("default", "tune"):
        row = result[name]
        print(f"{name:8s} validation macro-F1 {row['validation_macro_f1']:.4f}  test macro-F1 {row['test_macro_f1']:.4f}"
              f"  wall {row['wall_seconds']:.0f} s")
    gain = result["tune"]["test_macro_f1"] - result["default"]["test_macro_f1"]
    print(f"tune - default on test: {100 * gain:+.1f} points ({result['tune']['counts']})")
    args.results.parent.mkdir(parents=True, exist_ok=True)
    args.results.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
