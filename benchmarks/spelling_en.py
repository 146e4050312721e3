"""English spelling correction on ``en-spelling-synth``'s test split, whose misspellings are real ones (nlpaug's and
codespell's lists) of words never misspelled in training: the word level (MiniLM, full fine-tuning) alone and
reranking symspellpy's candidates, against the baselines (identity, symspell, pyspellchecker); then training
speed against a plain Hugging Face token-classification Trainer at its best, same model, labels and features.

Columns: word correction rate (misspelled words fixed / misspelled words), over-correction rate (correct words
changed / correct words), word-level correction F1, strict sentence correction F1, false-positive rate on clean
sentences. The model's acceptance threshold is tuned on validation (F0.5), for each of its two variants.

    python benchmarks/spelling_en.py --train 500 --epochs 1 --speed-repeats 1   # a quick check that it runs
    python benchmarks/spelling_en.py --train 20000 --epochs 2 --speed-repeats 0 # quality
    python benchmarks/spelling_en.py --train 4000 --epochs 1 --skip-quality     # speed (on a quiet machine)
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import finegrain  # noqa: E402
from finegrain.models.catalog import resolve_model  # noqa: E402
from finegrain.training.predictor import run_splits  # noqa: E402
from finegrain.training.setup import configured_splits  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import fast_bf16, row, run_precision, transformers_version  # noqa: E402

COLUMNS = [("word fixed", "correction_rate"), ("over-corr.", "over_correction_rate"),
           ("word C-F1", "word.correction.f1"), ("strict S-F1", "correction_f1"), ("FPR clean", "false_positive_rate"),
           ("threshold", "threshold")]
BATCH = 32


def metric(values: dict, key: str) -> str:
    for part in key.split("."):
        values = values.get(part) if isinstance(values, dict) else None
    return "-" if values is None else f"{values:.4f}"


def method_section(arm: str) -> dict:
    """An arm, ``name`` or ``name:key=value`` (a method parameter, e.g. ``symspell-context:context=false``)."""
    name, _, setting = arm.partition(":")
    section: dict = {"name": name}
    if setting:
        key, _, value = setting.partition("=")
        section[key] = {"true": True, "false": False}.get(value.lower(), value)
    return section


def config(args, method: str, output: Path, **task) -> dict:
    if args.max_over_correction is not None:
        task = {"max_over_correction": args.max_over_correction, **task}
    return {"task": {"name": "spelling", "level": "word", "vocabulary_size": args.vocabulary_size, **task},
            "model": {"name": args.model, "max_length": 64}, "method": method_section(method),
            "data": {"train": "en-spelling-synth", "max_train_examples": args.train},
            "train": {"epochs": args.epochs, "batch_size": BATCH, "lr": args.lr, "seed": 0}, "output": str(output)}


def train(args, method: str, output: Path) -> dict:
    started = time.perf_counter()
    result = finegrain.train(config(args, method, output), overwrite=True)
    info = json.loads((result.run_dir / "run.json").read_text())
    return {"test": result.metrics["test"], "seconds": time.perf_counter() - started, "run": result.run_dir,
            "precision": run_precision(info), "samples_per_second": info.get("timing", {}).get("samples_per_second")}


def reranked(run: Path) -> dict:
    """The trained run scored again with ``candidates: symspell``, its threshold tuned anew on validation."""
    predictor = finegrain.load(run)
    task = predictor.task
    task.params = task.params.model_copy(update={"candidates": "symspell"})
    task._threshold = None
    splits = run_splits(predictor)
    started = time.perf_counter()
    predictor.evaluate(splits["validation"])  # tunes the threshold for the reranked proposals
    return {"test": predictor.evaluate(splits["test"]), "seconds": time.perf_counter() - started}


def hf_speed(args, run: Path) -> float:
    """Samples/s of a plain Trainer (bf16 where fast, length-grouped; ner_quality's arguments) on the features and
    labels finegrain trained on, its model ``AutoModelForTokenClassification`` over the same output vocabulary."""
    import datasets
    from ner_quality import _training_arguments
    from transformers import AutoModelForTokenClassification, DataCollatorForTokenClassification, Trainer, set_seed
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    set_seed(0)
    predictor = finegrain.load(run)
    tokenizer, labels = predictor.source.encoding.tokenizer, predictor.labels
    train_split = configured_splits(predictor.task, predictor.config.data, predictor.config.train.seed)["train"]
    features = predictor.task.encode(predictor.task.check(train_split), tokenizer, labels, 64)
    names = list(labels.names)
    model = AutoModelForTokenClassification.from_pretrained(
        resolve_model(args.model), num_labels=len(names), id2label=dict(enumerate(names)),
        label2id={n: i for i, n in enumerate(names)})
    data = datasets.Dataset.from_dict({"input_ids": [f["input_ids"] for f in features],
                                       "labels": [f["labels"] for f in features]})
    arguments = _training_arguments(tempfile.mkdtemp(), args.epochs, 0, args.lr)
    arguments.per_device_train_batch_size = BATCH
    trainer = Trainer(model=model, args=arguments, train_dataset=data, processing_class=tokenizer,
                      data_collator=DataCollatorForTokenClassification(tokenizer))
    started = time.perf_counter()
    trainer.train()
    return len(features) * args.epochs / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--train", type=int, default=20000, help="training sentences (default 20000)")
    parser.add_argument("--epochs", type=float, default=2)
    parser.add_argument("--lr", type=float, default=1e-4)
    parser.add_argument("--model", default="default")
    parser.add_argument("--vocabulary-size", type=int, default=10000)
    parser.add_argument("--speed-repeats", type=int, default=2, help="finegrain/Trainer speed pairs (0: none)")
    parser.add_argument("--skip-quality", action="store_true", help="the speed pairs only (run them alone)")
    parser.add_argument("--arms", default="identity,symspell,pyspellchecker,symspell-context:context=false,"
                                          "symspell-context,full",
                        help="methods of the quality table, name or name:param=value (full: the model, then"
                             " reranking symspell's candidates)")
    parser.add_argument("--max-over-correction", type=float,
                        help="task.max_over_correction of every arm (default: the threshold tuned for F0.5)")
    parser.add_argument("--keep", help="a folder to keep the quality runs in (default: a temporary one)")
    args = parser.parse_args()
    print(f"en-spelling-synth: {args.train} training sentences x {args.epochs:g} epochs, lr {args.lr:g}, batch {BATCH},"
          f" model {args.model}, vocabulary {args.vocabulary_size}, threshold"
          f" {'F0.5' if args.max_over_correction is None else f'over-correction <= {args.max_over_correction:g}'};"
          f" transformers {transformers_version()}, bf16 {fast_bf16()}")
    with tempfile.TemporaryDirectory() as workdir:
        model_run = None if args.skip_quality else quality(args, Path(args.keep or workdir))
        if args.speed_repeats:
            speed(args, Path(workdir), model_run)


def quality(args, workdir: Path) -> Path:
    """Every arm's test scores; the trained model's run, for the reranked scores and the speed arms."""
    results = {}
    for method in args.arms.split(","):
        name = method if method != "full" else "model (full)"
        results[name] = train(args, method, workdir / method.replace(":", "-").replace("=", "-"))
        print(f"  done {method}: {results[name]['seconds']:.0f} s", flush=True)
    model_run = results["model (full)"]["run"] if "model (full)" in results else None
    if model_run is not None:
        results["model + symspell candidates"] = reranked(model_run)
    widths = [30, 8] + [12] * len(COLUMNS)
    print("\n" + row(["run", "seconds"] + [c for c, _ in COLUMNS], widths))
    for name, result in results.items():
        print(row([name, f"{result['seconds']:.0f}"] + [metric(result["test"], key) for _, key in COLUMNS], widths))
    return model_run


def speed(args, workdir: Path, model_run: Path | None) -> None:
    """finegrain's loop and the Trainer at its best in turns (A B, then B A), the same features and labels."""
    speeds: dict[str, list[float]] = {"finegrain": [], "trainer_best": []}
    for repeat in range(args.speed_repeats):
        order = ["finegrain", "trainer_best"] if model_run is None or repeat % 2 else ["trainer_best", "finegrain"]
        for name in order:
            if name == "finegrain":
                result = train(args, "full", workdir / f"speed{repeat}")
                model_run = model_run or result["run"]
                speeds[name].append(result["samples_per_second"])
            else:
                speeds[name].append(hf_speed(args, model_run))
            print(f"  {name}: {speeds[name][-1]:.1f} samples/s", flush=True)
    fg, hf = statistics.median(speeds["finegrain"]), statistics.median(speeds["trainer_best"])
    print(f"\ntraining samples/s: finegrain {fg:.1f} (runs {', '.join(f'{v:.1f}' for v in speeds['finegrain'])}),"
          f" Trainer at its best {hf:.1f} (runs {', '.join(f'{v:.1f}' for v in speeds['trainer_best'])}):"
          f" {fg / hf:.2f}x (goal 1.3x)")

if __name__ == "__main__":
    main()
