"""Attack throughput: queries per second when an attack step scores all its candidate texts in batches (finegrain's
``Probe.run``) against one candidate per forward pass (what a loop over TextAttack-style goal-function calls does),
on the same run, texts and candidates (each attackable word's character edits). Goal: at least 5x.

Both sides go through the run's own predictor (encoding, logits, decoding), so the ratio is the batching alone.

    python benchmarks/attack_throughput.py --run runs/tweet-sentiment-full --limit 50
    python benchmarks/attack_throughput.py --run RUN --limit 3 --single 40      # a smoke test
"""

from __future__ import annotations

import argparse
import os
import random
import time

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import finegrain  # noqa: E402
from finegrain.robustness.candidates import ATTACKS  # noqa: E402
from finegrain.robustness.probe import Probe, Request  # noqa: E402
from finegrain.robustness.runner import check_limit  # noqa: E402
from finegrain.training.predictor import run_splits  # noqa: E402


def candidate_requests(probe: Probe, candidates, seed: int) -> list[Request]:
    """Every word of every example replaced, one at a time, by each of its character edits."""
    rng = random.Random(seed)
    return [(i, {w: candidate}) for i, words in enumerate(probe.words) for w, word in enumerate(words)
            for candidate in candidates(word.text, rng)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", required=True, help="a finished run (any method)")
    parser.add_argument("--limit", type=int, default=50,
                        help="test (else validation) examples, a seeded stratified sample")
    parser.add_argument("--single", type=int, default=200, help="candidates timed one per forward pass (a sample)")
    parser.add_argument("--batch-size", type=int, default=64)
    args = parser.parse_args()
    predictor = finegrain.load(args.run)
    splits = run_splits(predictor)
    split = predictor.task.check(splits.get("test") or splits["validation"])
    split = check_limit(split, min(args.limit, len(split)), "the run's test split", predictor.task.stratify)
    examples = predictor.task.robustness.examples(split)
    probe = Probe(predictor, examples, args.batch_size)
    requests = candidate_requests(probe, ATTACKS.get("char").build(predictor), seed=0)
    probe.run(requests[:8])  # warm-up: first-call allocations are neither side's cost
    started = time.perf_counter()
    probe.run(requests)
    batched = len(requests) / (time.perf_counter() - started)
    sample = requests[:args.single]
    started = time.perf_counter()
    for request in sample:
        probe.run([request])
    single = len(sample) / (time.perf_counter() - started)
    print(f"run {args.run} ({predictor.runtime}), {len(examples)} texts, {len(requests)} candidate texts")
    print(f"batched:             {batched:10.1f} queries/s")
    print(f"one per forward:     {single:10.1f} queries/s (on {len(sample)} of them)")
    print(f"ratio:               {batched / single:10.1f}x (goal: at least 5x)")


if __name__ == "__main__":
    main()
