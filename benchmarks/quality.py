"""Quality of finegrain's default recipe versus a plain Trainer run (same model and budget) and
TF-IDF + logistic regression, on tweet-sentiment (8k training subset) and bbc-news, test splits.

    python benchmarks/quality.py --epochs 2
"""

from __future__ import annotations

import argparse
import tempfile

import finegrain
from common import MODEL, builtin_data, finegrain_config
from hf_baselines import tfidf_baseline, train_hf_trainer

DATASETS = {"tweet-sentiment": 8000, "bbc-news": None}


def compare(name: str, n_train: int | None, epochs: float, workdir: str) -> dict[str, dict]:
    data = builtin_data(name, n_train)
    (texts, labels), (test_texts, test_labels) = data["train"], data["test"]
    result = finegrain.train(finegrain_config(name, n_train, f"{workdir}/{name}", epochs=epochs), overwrite=True)
    hf = train_hf_trainer(MODEL, texts, labels, test_texts, test_labels, num_labels=len(data["labels"]),
                          epochs=epochs, batch_size=16, lr=5e-5, max_length=128, seed=0, best=True,
                          output_dir=f"{workdir}/hf-{name}")
    tfidf = tfidf_baseline(texts, labels, test_texts, test_labels)
    pick = lambda m: {"accuracy": m["accuracy"], "macro_f1": m["macro_f1"]}  # noqa: E731
    return {"finegrain": pick(result.metrics["test"]), "hf_trainer_best": pick(hf), "tfidf_logreg": pick(tfidf)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--epochs", type=float, default=2)
    parser.add_argument("--datasets", default=",".join(DATASETS))
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as workdir:
        for name in args.datasets.split(","):
            scores = compare(name, DATASETS[name], args.epochs, workdir)
            print(f"\n{name} (train {DATASETS[name] or 'all'}, {args.epochs:g} epochs, batch 16, lr 5e-5; test split)")
            for system, values in scores.items():
                print(f"  {system:16s} accuracy {values['accuracy']:.4f}  macro-F1 {values['macro_f1']:.4f}")


if __name__ == "__main__":
    main()
