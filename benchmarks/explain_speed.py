"""Seconds per explanation: finegrain's integrated gradients against the plain way a user writes it with Captum
(``LayerIntegratedGradients`` on the word embeddings of a transformers model, fp32, one text at a time, the same
steps, baseline and target), on tweet-sentiment test texts with a full fine-tuning run.

Both explain the predicted class's probability from a baseline of padding tokens with [CLS]/[SEP] kept; the
plain side's token attributions are summed into finegrain's words. Printed: seconds per explanation of each,
the speed ratio (goal: at least 3x), the Spearman correlation of the word scores (goal: at least 0.99 against
fp32) and the mean |convergence delta| Captum reports on each side.

    python benchmarks/explain_speed.py --run runs/explain-bench/tweet-sentiment-full --limit 100
    python benchmarks/explain_speed.py --limit 10 --n-train 400    # a smoke test (trains a small run first)
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import numpy as np  # noqa: E402
import torch  # noqa: E402
from scipy.stats import spearmanr  # noqa: E402

import finegrain  # noqa: E402
from finegrain.training.predictor import run_splits  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import finegrain_config, transformers_version  # noqa: E402


def plain_captum(model_dir: Path, texts: list[str], steps: int) -> tuple[list[np.ndarray], list[float], float]:
    """The plain way: one text at a time, fp32; token attributions, |delta| per text and the seconds per text."""
    from captum.attr import LayerIntegratedGradients
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    model = AutoModelForSequenceClassification.from_pretrained(model_dir).eval()

    def probability(input_ids, attention_mask, label):
        return torch.softmax(model(input_ids=input_ids, attention_mask=attention_mask).logits, -1)[:, label]

    lig = LayerIntegratedGradients(probability, model.get_input_embeddings())
    scores, deltas = [], []
    started = time.perf_counter()
    for text in texts:
        encoded = tokenizer(text, truncation=True, max_length=128, return_tensors="pt")
        ids, mask = encoded["input_ids"], encoded["attention_mask"]
        with torch.no_grad():
            label = int(model(input_ids=ids, attention_mask=mask).logits.argmax(-1))
        baseline = ids.clone()
        baseline[0, 1:-1] = tokenizer.pad_token_id
        attributions, delta = lig.attribute(ids, baselines=baseline, additional_forward_args=(mask, label),
                                            n_steps=steps, return_convergence_delta=True)
        scores.append(attributions.sum(-1)[0].detach().numpy())
        deltas.append(abs(float(delta)))
    return scores, deltas, (time.perf_counter() - started) / len(texts)


def words_of(predictor, texts: list[str], token_scores: list[np.ndarray]) -> list[np.ndarray]:
    """Token scores summed into the words finegrain explains (its own alignment of the same tokens)."""
    view, encoding = predictor.task.explaining, predictor.source.encoding
    split = predictor.task.prediction_split(texts)
    features = view.encode(split, encoding.tokenizer, predictor.labels, encoding.max_length)
    words = [np.zeros(len(view.words(split, i))) for i in range(len(texts))]
    for feature in features:
        for position, word in enumerate(feature["word_ids"]):
            if word is not None and position < len(token_scores[feature["example"]]):
                words[feature["example"]][word] += token_scores[feature["example"]][position]
    return words


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", help="a full fine-tuning run on tweet-sentiment (default: train one)")
    parser.add_argument("--n-train", type=int, default=4000)
    parser.add_argument("--limit", type=int, default=100)
    parser.add_argument("--steps", type=int, default=32)
    args = parser.parse_args()
    print(f"# python benchmarks/explain_speed.py {' '.join(sys.argv[1:])}")
    print(f"# finegrain {finegrain.__version__}, transformers {transformers_version()}, torch {torch.__version__},"
          f" {'cuda' if torch.cuda.is_available() else 'cpu'}")
    run = Path(args.run) if args.run else finegrain.train({**finegrain_config(
        "tweet-sentiment", args.n_train, "runs/explain-speed", epochs=1), "method": {"name": "full"}},
        overwrite=True).run_dir
    predictor = finegrain.load(run)
    texts = random.Random(0).sample(predictor.task.predict_inputs(run_splits(predictor)["test"]), args.limit)
    predictor.explain(texts[:2], steps=args.steps)  # warm-up: imports and first kernels on both sides alike
    started = time.perf_counter()
    ours = predictor.explain(texts, "integrated-gradients", steps=args.steps)
    our_seconds = (time.perf_counter() - started) / len(texts)
    plain_scores, plain_deltas, plain_seconds = plain_captum(run / "model", texts, args.steps)
    plain_words = words_of(predictor, texts, plain_scores)
    rhos = [spearmanr(e.targets[0].scores, w).statistic for e, w in zip(ours, plain_words) if len(w) > 1]
    our_deltas = [abs(e.targets[0].delta) for e in ours]
    print(f"finegrain integrated gradients: {our_seconds:.4f} s/explanation (precision {predictor.config.train.precision},"
          f" mean |delta| {np.mean(our_deltas):.5f})")
    print(f"plain Captum, fp32, one at a time: {plain_seconds:.4f} s/explanation (mean |delta| {np.mean(plain_deltas):.5f})")
    print(f"speed ratio: {plain_seconds / our_seconds:.2f}x (goal: at least 3x)")
    print(f"Spearman of word scores: mean {np.nanmean(rhos):.4f}, min {np.nanmin(rhos):.4f} over {len(rhos)} texts"
          " (goal: at least 0.99)")


if __name__ == "__main__":
    main()
