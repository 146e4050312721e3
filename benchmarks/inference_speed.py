"""Inference throughput and latency: finegrain's predictor (PyTorch fp32 / bf16, ONNX, ONNX int8)
versus a plain ``transformers.pipeline`` with batch_size 32, on the same test texts.

Variants run interleaved, round by round, in one process (this VM's speed drifts from minute to
minute: see README), and the median texts/s is reported, with quality (macro-F1 on the same
texts) and single-text latency.

    python benchmarks/inference_speed.py --run runs/tweet-full --n-texts 1000 --rounds 3
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import torch  # noqa: E402
from sklearn.metrics import f1_score  # noqa: E402

from finegrain.serving import export_run, load_export  # noqa: E402
from finegrain.training.predictor import load_predictor, run_splits  # noqa: E402

BATCH = 32


def build_variants(run: Path, max_length: int) -> dict:
    """name -> function(texts) -> predicted label names."""
    from transformers import pipeline

    plain = pipeline("text-classification", model=str(run / "model"), device=-1, batch_size=BATCH,
                     truncation=True, max_length=max_length)
    variants = {"transformers.pipeline (fp32, bs 32)": lambda texts: [p["label"] for p in plain(texts)]}
    for name, precision in (("finegrain fp32", "fp32"), ("finegrain bf16", "bf16")):
        variants[name] = _labels_of(load_predictor(run, "cpu", precision=precision))
    for fmt in ("onnx", "onnx-int8"):
        folder = run / "exports" / fmt
        if not (folder / "export.json").is_file():
            export_run(run, fmt)
        variants[f"finegrain {fmt}"] = _labels_of(load_export(folder))
    return variants


def _labels_of(predictor):
    return lambda texts: [p["label"] for p in predictor.predict(texts, batch_size=BATCH)]


def measure(variants: dict, texts: list[str], gold: list[str], rounds: int, latency_n: int) -> dict:
    speeds = {name: [] for name in variants}
    latency = {name: [] for name in variants}
    quality = {}
    for _ in range(rounds):
        for name, predict in variants.items():
            started = time.perf_counter()
            labels = predict(texts)
            speeds[name].append(len(texts) / (time.perf_counter() - started))
            quality[name] = f1_score(gold, labels, average="macro")
            for text in texts[:latency_n]:
                started = time.perf_counter()
                predict([text])
                latency[name].append(1000 * (time.perf_counter() - started))
    return {name: {"texts_per_s": statistics.median(speeds[name]), "runs": speeds[name], "macro_f1": quality[name],
                   "latency_ms_p50": statistics.median(latency[name]),
                   "latency_ms_p99": sorted(latency[name])[int(0.99 * (len(latency[name]) - 1))]}
            for name in variants}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", required=True, type=Path, help="a finished classification run (method full)")
    parser.add_argument("--n-texts", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--latency-n", type=int, default=30, help="single-text calls per variant and round")
    args = parser.parse_args()
    reference = load_predictor(args.run, "cpu")
    split = run_splits(reference)["test"]
    sample = split.frame.sample(n=min(args.n_texts, len(split)), random_state=0)  # the split is ordered by label
    texts, gold = [str(t) for t in sample["text"]], [str(v) for v in sample["label"]]
    variants = build_variants(args.run, reference.config.model.max_length)
    results = measure(variants, texts, gold, args.rounds, args.latency_n)
    print(f"{len(texts)} test texts (random sample, seed 0) of {reference.config.data.train}, batch {BATCH}, max_length "
          f"{reference.config.model.max_length}, torch threads {torch.get_num_threads()}, {args.rounds} interleaved rounds")
    base = results["transformers.pipeline (fp32, bs 32)"]
    for name, r in results.items():
        runs = ", ".join(f"{v:.1f}" for v in r["runs"])
        print(f"{name:<38} {r['texts_per_s']:7.1f} texts/s (runs {runs})  x{r['texts_per_s'] / base['texts_per_s']:.2f}"
              f"  macro-F1 {r['macro_f1']:.4f} ({100 * (r['macro_f1'] - base['macro_f1']):+.2f} pt)"
              f"  1-text latency p50 {r['latency_ms_p50']:.1f} ms p99 {r['latency_ms_p99']:.1f} ms")


if __name__ == "__main__":
    main()
