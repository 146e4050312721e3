"""The application scenarios on their built-in data: finegrain's example configs against the baselines,
in one script, every run scored on the scenario's whole test split.

Each scenario runs its example config (``configs/<scenario>-zh-small.yaml``: the small Chinese encoder,
full fine-tuning) and the classic baselines that ship as finegrain methods, on the same training rows:

- ``finance-intents`` (300 intents): character TF-IDF + LR (``tfidf``, ``analyzer: char_wb``) vs
  zh-small full fine-tuning and LoRA; goal: the best at least 3 points above TF-IDF.
- ``bq-matching`` (question pairs): ``tfidf-pair`` and ``bi-encoder`` (frozen zh-small) vs zh-small
  as a cross-encoder; published BERT-base-Chinese results are about 84-85% test accuracy (102M
  parameters, the whole training set, the published split; not reproduced here).
- ``msra-ner``: zh-small full fine-tuning, entity F1 (published BiLSTM-CRF ~0.90-0.91, BERT-base ~0.95).
- ``ctrip-reviews``: character TF-IDF + LR vs zh-small.

``--train`` caps the training rows (a stratified or grouped subsample, the same for every method);
``--epochs`` overrides the configs' epochs for the neural runs. Results go to stdout; keep them with
``| tee benchmarks/results/scenarios-<name>.txt``.

    python benchmarks/scenarios.py finance-intents
    python benchmarks/scenarios.py bq-matching --train 20000 --epochs 2
    python benchmarks/scenarios.py msra-ner --train 10000 --epochs 2
"""

from __future__ import annotations

import argparse
import json
import platform
import tempfile
import time
from pathlib import Path

import finegrain
from common import row, run_precision, transformers_version

ROOT = Path(__file__).resolve().parent.parent
NEURAL = {"full": [], "lora": ["method.name=lora", "train.lr=1.0e-3"]}
BASELINES = {  # run name -> overrides of the scenario's config that turn it into the baseline
    "tfidf char 1-3": ["method.name=tfidf", "method.analyzer=char_wb"],
    "tfidf-pair": ["method.name=tfidf-pair"],
    "bi-encoder (frozen zh-small)": ["method.name=bi-encoder"],
}
SCENARIOS = {  # scenario -> (example config, baselines, neural runs, metrics printed)
    "finance-intents": ("finance-intents-zh-small.yaml", ["tfidf char 1-3"], ["full", "lora"],
                        ["accuracy", "macro_f1"]),
    "bq-matching": ("bq-matching-zh-small.yaml", ["tfidf-pair", "bi-encoder (frozen zh-small)"], ["full"],
                    ["accuracy", "macro_f1", "roc_auc", "threshold_f1.f1"]),
    "msra-ner": ("msra-ner-zh-small.yaml", [], ["full"], ["entity_f1", "entity_precision", "entity_recall"]),
    "ctrip-reviews": ("ctrip-reviews-zh-small.yaml", ["tfidf char 1-3"], ["full"], ["accuracy", "macro_f1"]),
}


def metric(values: dict, key: str) -> str:
    for part in key.split("."):
        values = values.get(part) if isinstance(values, dict) else None
    return "-" if values is None else f"{values:.4f}"


def run(config: Path, overrides: list[str], output: Path) -> dict:
    """One training of ``config`` with ``overrides``: its test metrics, wall seconds and precision."""
    started = time.perf_counter()
    result = finegrain.train(str(config), overrides + [f"output={output}"], overwrite=True)
    info = json.loads((result.run_dir / "run.json").read_text(encoding="utf-8"))
    return {"test": result.metrics["test"], "seconds": time.perf_counter() - started, "precision": run_precision(info)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("scenario", choices=sorted(SCENARIOS))
    parser.add_argument("--train", type=int, help="at most this many training rows (default: all)")
    parser.add_argument("--epochs", type=float, help="epochs of the neural runs (default: the config's)")
    parser.add_argument("--only", help="comma-separated run names (default: all of the scenario's)")
    parser.add_argument("--model", help="model.name of the neural runs (default: the config's, zh-small)")
    parser.add_argument("--lr", type=float, help="train.lr of the neural runs (default: the config's)")
    args = parser.parse_args()
    config_name, baselines, neural, metrics = SCENARIOS[args.scenario]
    config = ROOT / "configs" / config_name
    common = [f"data.max_train_examples={args.train}"] if args.train else []
    runs = {name: BASELINES[name] for name in baselines}
    neural_overrides = ([f"train.epochs={args.epochs:g}"] if args.epochs else []) + (
        [f"model.name={args.model}"] if args.model else []) + ([f"train.lr={args.lr:g}"] if args.lr else [])
    runs.update({f"{args.model or 'zh-small'} {name}": NEURAL[name] + neural_overrides for name in neural})
    if args.only:
        runs = {name: runs[name] for name in args.only.split(",")}
    print(f"scenario {args.scenario}: configs/{config_name}, train rows {args.train or 'all'},"
          f" neural epochs {args.epochs or 'as configured'}, model {args.model or 'as configured'},"
          f" lr {args.lr or 'as configured'}; transformers {transformers_version()},"
          f" {platform.processor() or platform.machine()}")
    results = {}
    with tempfile.TemporaryDirectory() as workdir:
        for index, (name, overrides) in enumerate(runs.items()):
            results[name] = run(config, common + overrides, Path(workdir) / f"run{index}")
            print(f"  done {name}: {results[name]['seconds']:.0f} s", flush=True)
    widths = [30, 8, 10, 10] + [16] * len(metrics)
    print("\n" + row(["run", "n test", "seconds", "precision"] + metrics, widths))
    for name, result in results.items():
        print(row([name, result["test"].get("n", "-"), f"{result['seconds']:.0f}", result["precision"]]
                  + [metric(result["test"], key) for key in metrics], widths))


if __name__ == "__main__":
    main()
