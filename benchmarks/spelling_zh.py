"""Chinese spelling correction on ``sighan15-test`` (707 real learner sentences): a model trained on
``zh-spelling-synth`` only (synthetic errors) against the baselines, strict and lenient sentence-level F1.

Runs: the ``identity`` method (no change: strict and lenient F1 0 by definition, false-positive rate 0), the
``char-ngram`` fitted method (confusion sets + character trigram LM, our stand-in for pycorrector's kenlm
corrector), the same counting six more Chinese corpora with its threshold tuned for F1
(``configs/spelling-zh-ngram.yaml``) and the example config ``configs/spelling-zh-small.yaml`` (zh-small, full
fine-tuning; ``--model`` swaps in another, e.g. albert-tiny-zh). Published anchors, all on pycorrector's lenient
metric: kenlm 0.31, MacBERT4CSC 0.83 (~100M parameters, 271k real-error sentences); ReaLiSe's BERT-base 73.4
strict C-F1.

    python benchmarks/spelling_zh.py --train 200 --epochs 1      # a tiny check that it runs
    python benchmarks/spelling_zh.py                             # the measurement (all 38k training pairs)
"""

from __future__ import annotations

import argparse
import json
import platform
import tempfile
import time
from pathlib import Path

import finegrain
from finegrain.config import load_config
from common import row, run_precision, transformers_version

ROOT = Path(__file__).resolve().parent.parent
CONFIG = ROOT / "configs" / "spelling-zh-small.yaml"
NGRAM_CONFIG = ROOT / "configs" / "spelling-zh-ngram.yaml"  # its corpora and threshold_beta make one more arm
COLUMNS = [("strict C-F1", "correction_f1"), ("strict D-F1", "sentence_detection.f1"),
           ("lenient F1", "lenient.f1"), ("char C-F1", "char.correction.f1"), ("FPR clean", "false_positive_rate")]


def metric(values: dict, key: str) -> str:
    for part in key.split("."):
        values = values.get(part) if isinstance(values, dict) else None
    return "-" if values is None else f"{values:.4f}"


def run(overrides: list[str], output: Path) -> dict:
    started = time.perf_counter()
    result = finegrain.train(str(CONFIG), overrides + [f"output={output}"], overwrite=True)
    info = json.loads((result.run_dir / "run.json").read_text(encoding="utf-8"))
    return {"test": result.metrics["test"], "seconds": time.perf_counter() - started, "precision": run_precision(info)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--train", type=int, help="at most this many training pairs (default: all)")
    parser.add_argument("--epochs", type=float, help="epochs of the neural run (default: the config's)")
    parser.add_argument("--model", help="model.name of the neural run (default: the config's, zh-small)")
    parser.add_argument("--lr", type=float, help="train.lr of the neural run (default: the config's)")
    args = parser.parse_args()
    common = [f"data.max_train_examples={args.train}"] if args.train else []
    neural = ([f"train.epochs={args.epochs:g}"] if args.epochs else []) + (
        [f"model.name={args.model}"] if args.model else []) + ([f"train.lr={args.lr:g}"] if args.lr else [])
    ngram = load_config(NGRAM_CONFIG)
    corpora, beta = ngram.component_params("method").corpora, ngram.component_params("task").threshold_beta
    runs = {"identity": ["method.name=identity"], "char-ngram": ["method.name=char-ngram"],
            "char-ngram +corpora F1": ["method.name=char-ngram", f"method.corpora=[{','.join(corpora)}]",
                                       f"task.threshold_beta={beta:g}"],
            f"{args.model or 'zh-small'} full": neural}
    print(f"spelling: configs/{CONFIG.name}, train pairs {args.train or 'all'},"
          f" epochs {args.epochs or 'as configured'}, lr {args.lr or 'as configured'};"
          f" transformers {transformers_version()}, {platform.processor() or platform.machine()}")
    results = {}
    with tempfile.TemporaryDirectory() as workdir:
        for index, (name, overrides) in enumerate(runs.items()):
            results[name] = run(common + overrides, Path(workdir) / f"run{index}")
            print(f"  done {name}: {results[name]['seconds']:.0f} s", flush=True)
    widths = [24, 8, 10, 10] + [12] * len(COLUMNS)
    print("\n" + row(["run", "n test", "seconds", "precision"] + [c for c, _ in COLUMNS], widths))
    for name, result in results.items():
        print(row([name, result["test"].get("n", "-"), f"{result['seconds']:.0f}", result["precision"]]
                  + [metric(result["test"], key) for _, key in COLUMNS], widths))


if __name__ == "__main__":
    main()
