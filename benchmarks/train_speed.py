"""Training speed: finegrain versus a plain Hugging Face Trainer script, same model, data, budget.

The Trainer runs as users write it (defaults: fp32, random batches) and at its best (length-grouped
batches, and bf16 where the hardware runs it fast: fp32 on a CPU without AVX-512 BF16 or AMX, where
emulated bf16 is many times slower). Everything runs in this one process on this machine, finegrain and
Trainer-at-its-best alternating (A B A B ...) because a shared VM drifts in speed; medians are
printed with every run. samples/s = training examples x epochs / training seconds (finegrain:
its loop's own clock, which leaves out evaluation and checkpoints; Trainer: wall time around
trainer.train()). A finegrain fp32 run shows that bf16 keeps the quality.

Besides finegrain as shipped and the Trainer, single arms take one part of finegrain away: the
first-token last layer, the ``compact_embeddings`` speed-up (dense embedding updates), the
``cpu_dropout`` speed-up (PyTorch's own dropout); each speed-up alone is measured by
benchmarks/speedups_ab.py. In one process the runs alternate, in reverse order every other repeat.
``--only`` keeps the named runs.

``--fresh`` runs every training in a new process of its own, as a user runs either, alternating
(Trainer, finegrain, finegrain, Trainer, ...), so that nothing one run sets reaches the next; the ratio of each adjacent pair is printed beside the ratio of medians.

    python benchmarks/train_speed.py --n-train 4000 --epochs 1 --repeats 2 --skip-defaults --skip-fp32
    python benchmarks/train_speed.py --n-train 4000 --epochs 1 --repeats 4 --fresh
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time

import finegrain
from common import MODEL, builtin_data, finegrain_config, python_for, transformers_version
from finegrain.training.speedups import disabled
from hf_baselines import train_hf_trainer


def run_finegrain(args, workdir: str, tag: str, task: dict | None = None, without: tuple[str, ...] = (),
                  **train) -> dict:
    """One finegrain run; ``without``: speed-ups (finegrain.training.speedups) left out."""
    start = time.perf_counter()
    config = finegrain_config("tweet-sentiment", args.n_train, f"{workdir}/{tag}", epochs=args.epochs, **train)
    if task:
        config["task"] = task
    with disabled(*without):
        result = finegrain.train(config, overwrite=True)
    info = json.loads((result.run_dir / "run.json").read_text())
    return {"samples_per_second": info["timing"]["samples_per_second"], "wall_seconds": time.perf_counter() - start,
            "accuracy": result.metrics["test"]["accuracy"], "macro_f1": result.metrics["test"]["macro_f1"],
            "precision": info["precision"], "transformers": transformers_version()}


def run_trainer(args, data: dict, workdir: str, best: bool) -> dict:
    texts, labels = data["train"]
    test_texts, test_labels = data["test"]
    out = train_hf_trainer(MODEL, texts, labels, test_texts, test_labels, num_labels=len(data["labels"]),
                           epochs=args.epochs, batch_size=16, lr=5e-5, max_length=128, seed=0, best=best,
                           output_dir=f"{workdir}/hf-{best}")
    return {**{k: out[k] for k in ("samples_per_second", "accuracy", "macro_f1", "precision")},
            "transformers": transformers_version()}


RUNS = {  # name -> one training run
    "finegrain": lambda args, data, workdir: run_finegrain(args, workdir, "fg"),
    "trainer_best": lambda args, data, workdir: run_trainer(args, data, workdir, best=True),
    "trainer_defaults": lambda args, data, workdir: run_trainer(args, data, workdir, best=False),
    "finegrain_fp32": lambda args, data, workdir: run_finegrain(args, workdir, "fg32", precision="fp32"),
    "finegrain_no_first_token": lambda args, data, workdir: run_finegrain(
        args, workdir, "fgn", task={"name": "classification", "first_token_last_layer": False}),
    "finegrain_dense_embeddings": lambda args, data, workdir: run_finegrain(args, workdir, "fgd",
                                                                            without=("compact_embeddings",)),
    "finegrain_torch_dropout": lambda args, data, workdir: run_finegrain(args, workdir, "fgt", without=("cpu_dropout",)),
}
SLOW = {"trainer_defaults": "skip_defaults", "finegrain_fp32": "skip_fp32"}  # run once, after the timed rounds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n-train", type=int, default=8000)
    parser.add_argument("--epochs", type=float, default=2)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--no-warmup", dest="warmup", action="store_false",
                        help="skip the untimed warm-up runs (the first run in a process is slower)")
    parser.add_argument("--skip-defaults", action="store_true", help="skip the slow fp32 Trainer-defaults run")
    parser.add_argument("--skip-fp32", action="store_true", help="skip finegrain's fp32 quality check")
    parser.add_argument("--only", default=None, help="comma-separated run names to keep (default: all)")
    parser.add_argument("--fresh", action="store_true",
                        help="each run in a new process, alternating; runs: --only (default trainer_best,finegrain)")
    parser.add_argument("--trainer-transformers", metavar="DIR",
                        help="--fresh: run the Trainer with the transformers installed in DIR (pip install --no-deps"
                        " --target DIR transformers==X), e.g. the release before a regression")
    parser.add_argument("--one", help=argparse.SUPPRESS)  # internal: one run, its result printed as JSON
    args = parser.parse_args()
    if args.one or args.fresh:
        return fresh(args)
    wanted = set(RUNS) if args.only is None else set(args.only.split(","))
    if wanted - set(RUNS):
        parser.error(f"unknown run names {sorted(wanted - set(RUNS))}; choose from {', '.join(RUNS)}")
    data = builtin_data("tweet-sentiment", args.n_train)
    order = [name for name in RUNS if name in wanted and name not in SLOW]
    runs: dict[str, list[dict]] = {name: [] for name in RUNS}
    with tempfile.TemporaryDirectory() as workdir:
        if args.warmup:  # untimed: the process's first training pays one-time costs (oneDNN kernels, caches)
            run_trainer(argparse.Namespace(**{**vars(args), "epochs": 0.05}), data, workdir, best=True)
            run_finegrain(argparse.Namespace(**{**vars(args), "epochs": 0.05}), workdir, "warm")
        for repeat in range(args.repeats):
            for name in (order if repeat % 2 == 0 else order[::-1]):
                runs[name].append(RUNS[name](args, data, workdir))
        for name, skip in SLOW.items():
            if name in wanted and not getattr(args, skip):
                runs[name].append(RUNS[name](args, data, workdir))
    report(args, runs)


def fresh(args) -> None:
    """``--one NAME``: that run, here. ``--fresh``: each run of ``--only`` in a new process, alternating."""
    if args.one:
        with tempfile.TemporaryDirectory() as workdir:
            result = RUNS[args.one](args, builtin_data("tweet-sentiment", args.n_train), workdir)
        print("RESULT " + json.dumps(result))
        return
    names = (args.only or "trainer_best,finegrain").split(",")
    unknown = set(names) - set(RUNS)
    if unknown:
        sys.exit(f"--fresh runs: {', '.join(RUNS)}; not {sorted(unknown)}")
    runs: dict[str, list[dict]] = {name: [] for name in names}
    for repeat in range(args.repeats):
        for name in (names if repeat % 2 == 0 else names[::-1]):
            side = "finegrain" if name.startswith("finegrain") else "trainer"
            done = subprocess.run([*python_for(side, args.trainer_transformers), __file__, "--one", name, "--n-train", str(args.n_train),
                                   "--epochs", str(args.epochs)], capture_output=True, text=True)
            lines = [line for line in done.stdout.splitlines() if line.startswith("RESULT ")]
            if done.returncode or not lines:
                sys.exit(f"{name} failed:\n{done.stderr[-3000:]}")
            runs[name].append(json.loads(lines[-1][len("RESULT "):]))
            print(f"{name}: {runs[name][-1]['samples_per_second']:.1f} samples/s", flush=True)
    report(args, runs)
    if len(names) == 2:
        first, second = names
        ratios = [a["samples_per_second"] / b["samples_per_second"] for a, b in zip(runs[second], runs[first])]
        print(f"paired ratios {second} / {first} (adjacent runs): {', '.join(f'{r:.2f}' for r in ratios)}; "
              f"median {statistics.median(ratios):.2f}x")


def report(args, runs: dict[str, list[dict]]) -> None:
    print(f"\ntweet-sentiment, {args.n_train} training tweets x {args.epochs:g} epochs, batch 16, lr 5e-5, "
          f"max_length 128, test split {len(builtin_data('tweet-sentiment', args.n_train)['test'][0])} tweets\n")
    medians = {}
    for name, items in runs.items():
        if not items:
            continue
        speeds = [r["samples_per_second"] for r in items]
        medians[name] = statistics.median(speeds)
        print(f"{name:18s} samples/s median {medians[name]:7.1f}  runs {', '.join(f'{s:.1f}' for s in speeds)}"
              f"  test acc {items[-1]['accuracy']:.4f}  macro-F1 {items[-1]['macro_f1']:.4f}"
              f"  {items[-1].get('precision', '?')}, transformers {items[-1].get('transformers', '?')}")
    print()
    pairs = [("finegrain", "trainer_best", "headline: finegrain as shipped / the Trainer at its best as users run it"),
             ("finegrain", "finegrain_no_first_token", "the first-token last layer alone"),
             ("finegrain", "finegrain_dense_embeddings", "compact embeddings alone"),
             ("finegrain", "finegrain_torch_dropout", "CPU dropout masks drawn by numpy alone"),
             ("finegrain", "trainer_defaults", "finegrain / the Trainer as users write it"),
             ("finegrain", "finegrain_fp32", "bf16 / fp32")]
    for ours, theirs, what in pairs:
        if ours in medians and theirs in medians:
            print(f"{ours} / {theirs} = {medians[ours] / medians[theirs]:.2f}x   ({what})")


if __name__ == "__main__":
    main()
