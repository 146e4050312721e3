"""Training speed of the pair task: finegrain's ``pair-classification`` versus a plain Hugging Face Trainer
written the run_glue way (sentence pairs encoded as one sequence pair), same model, rows and budget.

Both train zh-small (the small Chinese encoder; built into the cache on first use) on the same
stratified subsample of bq-matching's training pairs, batch 32, lr 3e-4, max_length 64, AdamW with weight
decay 0.01, 10% warmup then linear decay. The Trainer runs at its best: length-grouped batches, and bf16
where the hardware runs it fast (``common.fast_bf16``; fp32 on a CPU without AVX-512 BF16 or AMX).
finegrain runs as shipped (precision auto, its speed-ups on). The runs alternate in this one process
(A B, then B A) after an untimed warm-up of each; medians are printed. samples/s = training pairs x
epochs / training seconds (finegrain: its loop's clock; Trainer: wall time around ``trainer.train()``).

    python benchmarks/pair_speed.py --n-train 4000 --epochs 1 --repeats 2
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile

import finegrain
from common import run_precision, transformers_version
from finegrain.data.sources import load_splits
from finegrain.models.catalog import resolve_model
from hf_baselines import train_hf_trainer

DATA, MODEL, BATCH, LR, MAX_LENGTH = "bq-matching", "zh-small", 32, 3e-4, 64
COLUMNS = {"text": "text", "text_pair": "text_pair", "label": "label"}


def pair_data(n_train: int) -> dict:
    """The training pairs finegrain trains on (subsampled as it does) and the test split."""
    splits = load_splits(DATA, None, None, columns=COLUMNS, stratify="label", validation_fraction=0.1,
                         max_train_examples=n_train, seed=0)
    names = sorted({str(v) for v in splits["train"].frame["label"]})
    out: dict = {"labels": names}
    for split in ("train", "test"):
        frame = splits[split].frame
        out[split] = (frame["text"].tolist(), frame["text_pair"].tolist(),
                      [names.index(str(v)) for v in frame["label"]])
    return out


def run_finegrain(args, workdir: str) -> dict:
    config = {"task": "pair-classification", "model": {"name": MODEL, "max_length": MAX_LENGTH},
              "data": {"train": DATA, "max_train_examples": args.n_train},
              "train": {"epochs": args.epochs, "batch_size": BATCH, "lr": LR, "seed": 0, "log_every": 50},
              "output": f"{workdir}/finegrain"}
    result = finegrain.train(config, overwrite=True)
    info = json.loads((result.run_dir / "run.json").read_text(encoding="utf-8"))
    test = result.metrics["test"]
    return {"samples_per_second": info["timing"]["samples_per_second"], "accuracy": test["accuracy"],
            "macro_f1": test["macro_f1"], "precision": run_precision(info)}


def run_trainer(args, data: dict, workdir: str) -> dict:
    first, second, labels = data["train"]
    test_first, test_second, test_labels = data["test"]
    out = train_hf_trainer(str(resolve_model(MODEL)), first, labels, test_first, test_labels,
                           num_labels=len(data["labels"]), epochs=args.epochs, batch_size=BATCH, lr=LR,
                           max_length=MAX_LENGTH, seed=0, best=True, output_dir=f"{workdir}/hf",
                           train_pairs=second, eval_pairs=test_second)
    return {key: out[key] for key in ("samples_per_second", "accuracy", "macro_f1", "precision")}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n-train", type=int, default=4000)
    parser.add_argument("--epochs", type=float, default=1)
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    data = pair_data(args.n_train)
    runs = {"finegrain": lambda workdir: run_finegrain(args, workdir),
            "trainer_best": lambda workdir: run_trainer(args, data, workdir)}
    results: dict[str, list[dict]] = {name: [] for name in runs}
    with tempfile.TemporaryDirectory() as workdir:
        warm = argparse.Namespace(**{**vars(args), "n_train": 320, "epochs": 1})  # untimed: one-time costs
        run_trainer(warm, pair_data(320), workdir)
        run_finegrain(warm, workdir)
        for repeat in range(args.repeats):
            for name in (list(runs) if repeat % 2 == 0 else list(runs)[::-1]):
                results[name].append(runs[name](workdir))
                print(f"{name}: {results[name][-1]['samples_per_second']:.1f} samples/s", flush=True)
    print(f"\n{DATA}, {MODEL}, {args.n_train} training pairs x {args.epochs:g} epochs, batch {BATCH}, lr {LR:g},"
          f" max_length {MAX_LENGTH}, test split {len(data['test'][0])} pairs; transformers {transformers_version()}\n")
    medians = {}
    for name, items in results.items():
        speeds = [r["samples_per_second"] for r in items]
        medians[name] = statistics.median(speeds)
        print(f"{name:14s} samples/s median {medians[name]:7.1f}  runs {', '.join(f'{s:.1f}' for s in speeds)}"
              f"  test acc {items[-1]['accuracy']:.4f}  macro-F1 {items[-1]['macro_f1']:.4f}  {items[-1]['precision']}")
    print(f"\nfinegrain / trainer_best = {medians['finegrain'] / medians['trainer_best']:.2f}x")


if __name__ == "__main__":
    main()
