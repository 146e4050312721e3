"""What pretraining buys, in Chinese: zh-small fine-tuned on chinese-reviews, versus the same
architecture from random initialisation (``model.random_init: true``), versus character n-gram
TF-IDF + logistic regression. All three see the same training subsample and the same test split.

By default the registered ``zh-small`` is used (built on first use: ~15 min on 2 free CPU cores).
``--pretrain-steps N`` instead pretrains the same architecture with the same settings for only N
steps (the full build is ~700 steps), for a shared or slow machine; the output says which.

    python benchmarks/zh_pretraining.py --n-train 3000 --epochs 3
    python benchmarks/zh_pretraining.py --pretrain-steps 200 --n-train 2000 --epochs 2
    python benchmarks/zh_pretraining.py --model runs/my-pretraining     # any pretrain output folder
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import yaml
from common import builtin_data
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, f1_score

import finegrain
from finegrain.models.catalog import resolve_model
from finegrain.pretraining.config import load_pretrain_config
from finegrain.pretraining.runner import run_pretraining
from finegrain.pretraining.zoo import ZH_SMALL


def pretrained_model(model: str, steps: int | None, workdir: str) -> tuple[str, dict]:
    if steps is None:  # the registered zh-small, or a 'finegrain pretrain' output folder
        path = resolve_model(model)
        return path, _info(Path(path).parent)
    overrides = [f"train.max_steps={steps}", f"train.eval_every={max(steps // 2, 1)}"]
    config = load_pretrain_config({**ZH_SMALL, "output": f"{workdir}/zh-small-{steps}"}, overrides)
    result = run_pretraining(config, overwrite=True)
    return str(result.model_dir), _info(result.output)


def _info(output: Path) -> dict:
    info = json.loads((output / "run.json").read_text())
    info["batch_size"] = yaml.safe_load((output / "config.yaml").read_text())["train"]["batch_size"]
    return info


def fine_tune(model: str, random_init: bool, args, output: str) -> dict:
    start = time.perf_counter()
    result = finegrain.train({
        "model": {"name": model, "max_length": 128, "random_init": random_init},
        "data": {"train": "chinese-reviews", "max_train_examples": args.n_train},
        "train": {"epochs": args.epochs, "batch_size": 32, "lr": args.lr, "seed": 0, "log_every": 50},
        "output": output}, overwrite=True)
    test = result.metrics["test"]
    return {"accuracy": test["accuracy"], "macro_f1": test["macro_f1"], "seconds": time.perf_counter() - start}


def tfidf(args) -> dict:
    data = builtin_data("chinese-reviews", args.n_train)
    (train_x, train_y), (test_x, test_y) = data["train"], data["test"]
    start = time.perf_counter()
    vectorizer = TfidfVectorizer(analyzer="char", ngram_range=(1, 3), sublinear_tf=True, min_df=1)
    classifier = LogisticRegression(C=10.0, max_iter=2000).fit(vectorizer.fit_transform(train_x), train_y)
    predictions = classifier.predict(vectorizer.transform(test_x))
    return {"accuracy": accuracy_score(test_y, predictions), "macro_f1": f1_score(test_y, predictions, average="macro"),
            "seconds": time.perf_counter() - start, "test_size": len(test_y)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="zh-small", help="zh-small, or a 'finegrain pretrain' output folder")
    parser.add_argument("--pretrain-steps", type=int, default=None, help="pretrain zh-small's settings for N steps")
    parser.add_argument("--n-train", type=int, default=3000)
    parser.add_argument("--epochs", type=float, default=3)
    parser.add_argument("--lr", type=float, default=3e-4)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as workdir:
        model, info = pretrained_model(args.model, args.pretrain_steps, workdir)
        rows = {"zh-small (pretrained), fine-tuned": fine_tune(model, False, args, f"{workdir}/pre"),
                "same architecture, random init": fine_tune(model, True, args, f"{workdir}/random"),
                "char 1-3-gram TF-IDF + LR (C=10)": tfidf(args)}
    timing = info["timing"]
    print(f"\npretraining ({model}): {info['steps']} steps of batch {info['batch_size']} x 128 tokens ({timing['train_seconds']:.0f} s,"
          f" {timing['tokens_per_second']:.0f} tokens/s); held-out masked-LM loss {info['initial']['loss']:.3f}"
          f" -> {info['validation']['loss']:.3f} (perplexity {info['validation']['perplexity']:.1f},"
          f" accuracy {info['validation']['accuracy']:.3f})")
    print(f"chinese-reviews: {args.n_train} training reviews, {args.epochs:g} epochs, lr {args.lr:g}, batch 32,"
          f" max_length 128; test split of {rows['char 1-3-gram TF-IDF + LR (C=10)']['test_size']} reviews\n")
    print(f"{'model':38s} {'test acc':>9s} {'macro-F1':>9s} {'seconds':>8s}")
    for name, row in rows.items():
        print(f"{name:38s} {row['accuracy']:9.4f} {row['macro_f1']:9.4f} {row['seconds']:8.0f}")


if __name__ == "__main__":
    main()
