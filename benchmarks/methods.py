"""Every adaptation method on one dataset, through ``finegrain.train``, in one table.

Each method runs with its own defaults (its ``default_lr`` and its task's ``task_params``
included) in a fresh process, so that nothing another method left behind counts in its memory.
Prints: method, test primary metric (macro-F1 / entity F1), accuracy, trainable %, peak memory MB
(GPU: peak allocation; CPU: peak heap in use, see finegrain/training/memory.py), peak RSS MB (CPU),
train seconds, samples/s, checkpoint MB, and LoRA - full.
Writes ``benchmarks/results/methods-<task>.json``.

Example (a smoke run; the real one takes hours on CPU and is run alone on a quiet machine):
    python benchmarks/methods.py --limit 300 --epochs 1 --methods full,lora
    python benchmarks/methods.py --task ner            # tweet-ner, every method
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

RESULTS = Path(__file__).resolve().parent / "results"
DATASETS = {"classification": "tweet-sentiment", "ner": "tweet-ner"}
COLUMNS = ("method", "test {metric}", "accuracy", "trainable %", "peak MB", "RSS MB", "train s", "samples/s", "ckpt MB",
           "lr")


def run_method(task: str, method: str, dataset: str, limit: int | None, epochs: float | None, model: str,
               max_length: int, output: str) -> dict[str, Any]:
    """Train one method with its defaults and return its row (runs in a child process)."""
    import finegrain

    train: dict[str, Any] = {"seed": 0} if epochs is None else {"seed": 0, "epochs": epochs}
    config = {"task": task, "method": method, "model": {"name": model, "max_length": max_length},
              "data": {"train": dataset, "max_train_examples": limit}, "train": train, "output": output}
    result = finegrain.train(config, overwrite=True)
    return collect_row(task, method, result.run_dir)


def collect_row(task: str, method: str, run_dir: Path) -> dict[str, Any]:
    """A method's row from its finished run directory."""
    from finegrain.registry import TASKS

    run_dir = Path(run_dir)
    info = json.loads((run_dir / "run.json").read_text(encoding="utf-8"))
    metrics = json.loads((run_dir / "metrics.json").read_text(encoding="utf-8"))
    test = metrics.get("test") or metrics["validation"]
    primary = TASKS.get(task).primary_metric
    return {"method": method, "metric": primary, "test_metric": test[primary], "accuracy": test.get("accuracy"),
            "trainable_percent": info["parameters"]["trainable_percent"], "trainable": info["parameters"]["trainable"],
            "total": info["parameters"]["total"], "peak_memory_mb": info["peak_memory_mb"],
            "peak_rss_mb": info.get("peak_rss_mb"),
            "train_seconds": info["timing"]["train_seconds"], "samples_per_second": info["timing"]["samples_per_second"],
            "checkpoint_mb": info["model_size_mb"], "lr": info["lr"], "device": info["device"],
            "run_dir": str(run_dir)}


def run_isolated(*args: Any) -> dict[str, Any]:
    """``run_method`` in a fresh spawned process: its own peak memory, no state left behind."""
    with ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn")) as pool:
        return pool.submit(run_method, *args).result()


def lora_minus_full(rows: list[dict[str, Any]]) -> dict[str, float] | None:
    """LoRA's test metric and accuracy minus full fine-tuning's, when both ran."""
    by_name = {row["method"]: row for row in rows}
    if not {"lora", "full"} <= set(by_name):
        return None
    lora, full = by_name["lora"], by_name["full"]
    difference = {"test_metric": lora["test_metric"] - full["test_metric"]}
    if lora["accuracy"] is not None and full["accuracy"] is not None:
        difference["accuracy"] = lora["accuracy"] - full["accuracy"]
    return difference


def table(rows: list[dict[str, Any]]) -> str:
    """A fixed-width text table, one row per method."""
    metric = rows[0]["metric"] if rows else "metric"
    header = [c.format(metric=metric) for c in COLUMNS]
    body = [[r["method"], f"{r['test_metric']:.4f}", "-" if r["accuracy"] is None else f"{r['accuracy']:.4f}",
             f"{r['trainable_percent']:.3f}", f"{r['peak_memory_mb']:.0f}",
             "-" if r.get("peak_rss_mb") is None else f"{r['peak_rss_mb']:.0f}", f"{r['train_seconds']:.1f}",
             f"{r['samples_per_second']:.1f}", f"{r['checkpoint_mb']:.2f}", "-" if r["lr"] is None else f"{r['lr']:g}"] for r in rows]
    widths = [max(len(line[i]) for line in [header, *body]) for i in range(len(header))]
    return "\n".join("  ".join(cell.rjust(w) for cell, w in zip(line, widths)) for line in [header, *body])


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    from finegrain.registry import METHODS

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--task", choices=sorted(DATASETS), default="classification")
    parser.add_argument("--dataset", help="a built-in name or file (default: tweet-sentiment / tweet-ner)")
    parser.add_argument("--methods", default=",".join(METHODS.names()), help="comma-separated (default: all)")
    parser.add_argument("--limit", type=int, default=8000, help="data.max_train_examples")
    parser.add_argument("--epochs", type=float, help="train.epochs (default: the config default)")
    parser.add_argument("--model", default="default")
    parser.add_argument("--max-length", type=int, default=128)
    parser.add_argument("--runs", default="runs/benchmarks", help="folder for the run directories")
    parser.add_argument("--collect", action="store_true",
                        help="train nothing: build the table from the finished run directories under --runs")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    dataset = args.dataset or DATASETS[args.task]
    rows = []
    for method in [m.strip() for m in args.methods.split(",") if m.strip()]:
        output = str(Path(args.runs) / f"methods-{args.task}" / method)
        if args.collect:
            rows.append(collect_row(args.task, method, Path(output)))
            continue
        rows.append(run_isolated(args.task, method, dataset, args.limit, args.epochs, args.model,
                                 args.max_length, output))
        print(f"done: {method}", flush=True)
    print(table(rows))
    difference = lora_minus_full(rows)
    if difference:
        print("LoRA - full: " + ", ".join(f"{k} {v:+.4f}" for k, v in difference.items()))
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"methods-{args.task}.json"
    settings = {"task": args.task, "dataset": dataset, "limit": args.limit, "epochs": args.epochs,
                "model": args.model, "max_length": args.max_length}
    path.write_text(json.dumps({"settings": settings, "rows": rows, "lora_minus_full": difference}, indent=2) + "\n")
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
