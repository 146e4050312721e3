"""Per-text prediction time of a run or export at batch 1, 8, 16 and 32: what micro-batching can gain.

Calls the predictor the server calls (``predict``: checks, tokenizing, model, decoding), on tweets from
the tweet-sentiment test split in a fixed random order; best of two rounds. The ratio to batch 1 bounds
the model's share of a serving gain (HTTP work done while the model runs can add to it).

    python benchmarks/batch_scaling.py runs/tweet-full
    python benchmarks/batch_scaling.py runs/tweet-full/exports/onnx-int8
"""

from __future__ import annotations

import argparse
import random
import time

from finegrain.data.sources import load_source
from finegrain.serving.export import open_predictor


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("path", help="a run or an export folder")
    args = parser.parse_args()
    predictor = open_predictor(args.path)
    texts = [str(t) for t in load_source("tweet-sentiment", "test", {"text": "text", "label": "label"}).frame["text"]]
    random.Random(0).shuffle(texts)
    texts = texts[:512]
    predictor.predict(texts[:64])  # warm-up
    best: dict[int, float] = {}
    for _ in range(2):
        for size in (1, 8, 16, 32):
            n = 128 if size == 1 else 256
            started = time.perf_counter()
            for i in range(0, n, size):
                predictor.predict(texts[i:i + size], batch_size=size)
            best[size] = min(best.get(size, float("inf")), 1000 * (time.perf_counter() - started) / n)
    for size, ms in best.items():
        print(f"batch {size:2d}: {ms:6.2f} ms per text  ({best[1] / ms:.2f}x batch 1)")


if __name__ == "__main__":
    main()
