"""How faithful finegrain's explanations are, per method: integrated gradients (trained methods) and occlusion
(every method) on tweet-sentiment and tweet-ner test texts, each beside random attributions.

For each run it prints ERASER comprehensiveness and sufficiency AOPC (top 1/5/10/20/50% of words; words deleted
for classification, replaced by [MASK] for NER), Kendall tau against leave-one-out and seconds per explanation,
and the ratio of integrated gradients' comprehensiveness to the random baseline's (the goal: at least 2x).
TF-IDF is a classification method only, so tweet-ner has full and LoRA.

    python benchmarks/explain_faithfulness.py                       # trains 5 runs, explains 100 texts each
    python benchmarks/explain_faithfulness.py --limit 10 --n-train 400 --epochs 1   # a smoke test
    python benchmarks/explain_faithfulness.py --runs-dir runs/explain-bench         # reuses runs trained there
"""

from __future__ import annotations

import argparse
import os
import random
import sys
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import finegrain  # noqa: E402
from finegrain.explain import explain, faithfulness, usable_explainers  # noqa: E402
from finegrain.training.predictor import run_splits  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import finegrain_config, row, transformers_version  # noqa: E402

ARMS = (("tweet-sentiment", "classification", "full"), ("tweet-sentiment", "classification", "lora"),
        ("tweet-sentiment", "classification", "tfidf"), ("tweet-ner", "ner", "full"), ("tweet-ner", "ner", "lora"))
WIDTHS = [16, 6, 22, 9, 9, 8, 9, 10, 7]


def trained(data: str, task: str, method: str, args: argparse.Namespace) -> Path:
    """The run of one arm: trained once under ``--runs-dir``, reused afterwards."""
    output = Path(args.runs_dir) / f"{data}-{method}"
    if (output / "run.json").is_file() and (output / "model").is_dir():
        return output
    lr = args.lora_lr if method == "lora" else 5e-5  # LoRA's few parameters need a larger step
    config = finegrain_config(data, args.n_train, str(output), epochs=args.epochs, lr=lr)
    config.update(task=task, method={"name": method})
    return finegrain.train(config, overwrite=True).run_dir


def sample(predictor, limit: int, seed: int) -> list:
    """``limit`` test inputs (validation where the run has no test split), drawn with ``seed``."""
    splits = run_splits(predictor)
    split = splits.get("test") or splits["validation"]
    inputs = predictor.task.predict_inputs(split)
    return random.Random(seed).sample(inputs, min(limit, len(inputs)))


def measure(predictor, inputs: list, method: str, steps: int) -> dict:
    explanations = explain(predictor, inputs, method, steps=steps)
    return faithfulness(predictor, inputs, explanations)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-train", type=int, default=4000)
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--limit", type=int, default=100, help="test texts explained per run")
    parser.add_argument("--steps", type=int, default=32, help="integrated gradients' steps")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--runs-dir", default="runs/explain-bench")
    parser.add_argument("--lora-lr", type=float, default=5e-4, help="LoRA runs' learning rate (the others: 5e-5)")
    parser.add_argument("--only", nargs="+", metavar="DATA", help="these data sets only (tweet-sentiment, tweet-ner)")
    args = parser.parse_args()
    print(f"# python benchmarks/explain_faithfulness.py {' '.join(sys.argv[1:])}")
    print(f"# finegrain {finegrain.__version__}, transformers {transformers_version()}; {args.limit} texts per run")
    print(row(["data", "task", "method / explainer", "compr.", "suff.", "tau", "s/expl.", "random c.", "ratio"],
              WIDTHS))
    for data, task, method in [arm for arm in ARMS if not args.only or arm[0] in args.only]:
        predictor = finegrain.load(trained(data, task, method, args))
        inputs = sample(predictor, args.limit, args.seed)
        for explainer in [e for e in ("integrated-gradients", "occlusion") if e in usable_explainers(predictor)]:
            table = measure(predictor, inputs, explainer, args.steps)
            ours, random_row = table["rows"][explainer], table["rows"]["random"]
            if ours["comprehensiveness"] is None:  # nothing to explain: e.g. an NER run that predicts no entity
                print(row([data, task, f"{method} / {explainer}", "no predictions to explain (train longer)"],
                          WIDTHS[:3] + [60]), flush=True)
                continue
            ratio = ours["comprehensiveness"] / random_row["comprehensiveness"] if random_row["comprehensiveness"] else None
            print(row([data, task, f"{method} / {explainer}", f"{ours['comprehensiveness']:.4f}",
                       f"{ours['sufficiency']:.4f}", "-" if ours["kendall_tau"] is None else f"{ours['kendall_tau']:.3f}",
                       f"{ours['seconds']:.3f}", f"{random_row['comprehensiveness']:.4f}",
                       "-" if ratio is None else f"{ratio:.2f}x"], WIDTHS), flush=True)
    print("# goal: integrated gradients' comprehensiveness at least 2x the random baseline's (ratio column)")


if __name__ == "__main__":
    main()
