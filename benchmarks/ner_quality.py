"""NER quality and speed: finegrain's default NER recipe versus a plain Hugging Face Trainer script
written the run_ner way, on the built-in tweet-ner data (same model, data, epochs, batch size).

finegrain: ``task: ner`` with its defaults (model ``default`` = MiniLM-L6-H384, max_length 128,
full fine-tuning at its measured NER lr 1.5e-4 (``--lr`` to change), AdamW, weight decay 0.01, 10%
warmup then linear decay, batch 16,
precision auto (bf16 where supported), length-grouped batches, first-sub-token labels, the best
epoch on validation kept). Plain HF "at its best": AutoModelForTokenClassification, first-subword
labels (-100 elsewhere), DataCollatorForTokenClassification, Trainer with the same optimizer
settings, bf16 (where the hardware runs it fast) and group_by_length, no evaluation during training (the last epoch is used), at
run_ner's default lr 5e-5 and, with ``--hf-lrs``, at other lrs (finegrain's 1.5e-4 shows how much of a
gap is the lr alone).

Both are scored the same way: seqeval entity F1, strict IOB2, on the tweet-ner test split, words
in their original order (words cut off by truncation count as 'O'). Train samples/s is sentences
x epochs / the seconds of training alone (finegrain: run.json ``timing``; HF: around
``trainer.train()``), evaluation and loading excluded.

    python benchmarks/ner_quality.py --seeds 0,1,2 --hf-lrs 5e-5,1.5e-4   # the full comparison (run it alone)
    python benchmarks/ner_quality.py --limit 100 --epochs 1  # a smoke test
    python benchmarks/ner_quality.py --seeds 0,1 --fresh     # each training in a process of its own
    python benchmarks/ner_quality.py --seeds 0,1,2 --turns 3  # two processes taking turns: the speed measure

By default all runs share this one process, one after the other. ``--fresh`` runs every
training in a new process, as a user runs either, alternating which goes first per seed, and prints
each seed's speed ratio; but a pair's two runs are minutes apart, and this machine's speed drifts by
5-10% over minutes. ``--turns S`` runs each seed's trainings in two processes at once that take turns
of S seconds (one is stopped while the other runs; ``benchmarks/turns.py``), so that drift falls on
both alike; each side's time is then its training steps' (step start to step end, data loading
between steps left out on both sides) less the time it was stopped inside them.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import finegrain  # noqa: E402
from finegrain.data.sources import load_splits  # noqa: E402
from finegrain.models.catalog import default_model_path  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import fast_bf16, python_for, transformers_version  # noqa: E402
from turns import record_finegrain_steps, running_seconds, take_turns, trainer_step_callback  # noqa: E402

MAX_LENGTH, BATCH, SEED = 128, 16, 0
HF_LR = 5e-5  # run_ner's (and TrainingArguments') default learning rate


def tweet_ner(limit: int | None) -> dict[str, tuple[list[list[str]], list[list[str]]]]:
    """The very train/test sentences finegrain trains and tests on (train subsampled as it does)."""
    splits = load_splits("tweet-ner", None, None, columns={"tokens": "tokens", "tags": "tags"}, stratify=None,
                         validation_fraction=0.1, max_train_examples=limit, seed=SEED)
    return {name: (list(map(list, split.frame["tokens"])), list(map(list, split.frame["tags"])))
            for name, split in splits.items()}


def run_finegrain(limit: int | None, epochs: float, workdir: str, seed: int = SEED, lr: float | None = None) -> dict:
    """finegrain's default recipe (``lr`` None: full fine-tuning's measured lr for NER)."""
    config = {"task": "ner", "model": {"name": "default", "max_length": MAX_LENGTH},
              "data": {"train": "tweet-ner", "max_train_examples": limit},
              "train": {"epochs": epochs, "batch_size": BATCH, "lr": lr, "seed": seed, "log_every": 50},
              "output": f"{workdir}/finegrain"}
    result = finegrain.train(config, overwrite=True)
    info = json.loads((result.run_dir / "run.json").read_text(encoding="utf-8"))
    return {"entity_f1": result.metrics["test"]["entity_f1"], "samples_per_second": info["timing"]["samples_per_second"],
            "train_seconds": info["timing"]["train_seconds"], "precision": info["precision"], "lr": info["lr"]}


def _align(tokenizer, words: list[list[str]], tags: list[list[str]] | None, label2id: dict[str, int]) -> dict:
    """run_ner's tokenize_and_align_labels: the first sub-token of each word carries its label."""
    encoded = tokenizer(words, is_split_into_words=True, truncation=True, max_length=MAX_LENGTH)
    if tags is None:
        return encoded
    labels = []
    for index, sentence_tags in enumerate(tags):
        previous, row = None, []
        for word in encoded.word_ids(index):
            row.append(-100 if word is None or word == previous else label2id.get(sentence_tags[word], -100))
            previous = word
        labels.append(row)
    encoded["labels"] = labels
    return encoded


def _predict_words(model, tokenizer, words: list[list[str]], id2label: dict[int, str], bf16: bool) -> list[list[str]]:
    """Tags per word in input order: each word's first sub-token, 'O' for words cut by truncation."""
    import torch

    model.eval()
    predictions: list[list[str]] = []
    device = next(model.parameters()).device
    for start in range(0, len(words), 64):
        batch = words[start:start + 64]
        encoded = tokenizer(batch, is_split_into_words=True, truncation=True, max_length=MAX_LENGTH,
                            padding=True, return_tensors="pt").to(device)
        with torch.no_grad(), torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16):
            best = model(**encoded).logits.argmax(-1).cpu().tolist()
        for row, sentence in enumerate(batch):
            tags, seen = ["O"] * len(sentence), set()
            for position, word in enumerate(encoded.word_ids(row)):
                if word is not None and word not in seen:
                    seen.add(word)
                    tags[word] = id2label[best[row][position]]
            predictions.append(tags)
    return predictions


def _training_arguments(output_dir: str, epochs: float, seed: int = SEED, lr: float = HF_LR):
    """TrainingArguments at their best: bf16 where the hardware runs it fast (fp32 elsewhere) and length-grouped
    batches (transformers 4 or 5 spelling)."""
    import dataclasses

    import torch
    from transformers import TrainingArguments

    fields = {f.name for f in dataclasses.fields(TrainingArguments)}
    grouping = ({"group_by_length": True} if "group_by_length" in fields
                else {"train_sampling_strategy": "group_by_length"})
    return TrainingArguments(output_dir=output_dir, per_device_train_batch_size=BATCH, num_train_epochs=epochs,
                             learning_rate=lr, weight_decay=0.01, warmup_steps=0.1, lr_scheduler_type="linear",
                             bf16=fast_bf16(), eval_strategy="no", save_strategy="no", report_to="none", disable_tqdm=True,
                             logging_strategy="no", seed=seed, use_cpu=not torch.cuda.is_available(), **grouping)


def run_hf(data: dict, epochs: float, workdir: str, seed: int = SEED, lr: float = HF_LR, callbacks=None) -> dict:
    import datasets
    from seqeval.metrics import f1_score
    from seqeval.scheme import IOB2
    from transformers import (AutoModelForTokenClassification, AutoTokenizer, DataCollatorForTokenClassification,
                              Trainer, set_seed)
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    set_seed(seed)
    model_path = str(default_model_path())
    (words, tags), (test_words, test_tags) = data["train"], data["test"]
    names = sorted({tag for sentence in tags for tag in sentence})
    label2id = {name: i for i, name in enumerate(names)}
    tokenizer = AutoTokenizer.from_pretrained(model_path)
    model = AutoModelForTokenClassification.from_pretrained(
        model_path, num_labels=len(names), id2label=dict(enumerate(names)), label2id=label2id)
    train = datasets.Dataset.from_dict(dict(_align(tokenizer, words, tags, label2id)))
    trainer = Trainer(model=model, args=_training_arguments(f"{workdir}/hf", epochs, seed, lr), train_dataset=train,
                      processing_class=tokenizer, data_collator=DataCollatorForTokenClassification(tokenizer),
                      callbacks=callbacks)
    started = time.perf_counter()
    trainer.train()
    seconds = time.perf_counter() - started
    predicted = _predict_words(trainer.model, tokenizer, test_words, dict(enumerate(names)), bf16=fast_bf16())
    return {"entity_f1": float(f1_score(test_tags, predicted, mode="strict", scheme=IOB2)),
            "samples_per_second": len(words) * float(epochs) / seconds, "train_seconds": seconds,
            "precision": "bf16" if fast_bf16() else "fp32",
            "lr": lr}


def _mean_std(values: list[float]) -> str:
    mean = sum(values) / len(values)
    std = (sum((v - mean) ** 2 for v in values) / (len(values) - 1)) ** 0.5 if len(values) > 1 else 0.0
    return f"{mean:.4f} ± {std:.4f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--epochs", type=float, default=3)
    parser.add_argument("--limit", type=int, default=None, help="train on this many sentences (default: all 1915)")
    parser.add_argument("--seeds", default=str(SEED), help="comma-separated training seeds, e.g. 0,1,2")
    parser.add_argument("--lr", type=float, help="finegrain's lr (default: its default recipe)")
    parser.add_argument("--hf-lrs", default=str(HF_LR),
                        help=f"comma-separated lrs for the plain Trainer (default {HF_LR:g}, run_ner's); a second"
                             " one, e.g. finegrain's NER default 1.5e-4, shows how much of a gap is the lr")
    parser.add_argument("--fresh", action="store_true", help="each training in a new process of its own")
    parser.add_argument("--turns", type=float, metavar="SECONDS",
                        help="each seed's trainings in two processes that take turns of SECONDS (benchmarks/turns.py)")
    parser.add_argument("--trainer-transformers", metavar="DIR",
                        help="--fresh/--turns: run the Trainer with the transformers installed in DIR (pip install"
                        " --no-deps --target DIR transformers==X), e.g. the release before a regression")
    parser.add_argument("--one", help=argparse.SUPPRESS)  # internal: one training, printed as JSON
    parser.add_argument("--windows", action="store_true", help=argparse.SUPPRESS)  # internal: with step times
    args = parser.parse_args()
    if args.one:
        return _one(args)
    seeds = [int(s) for s in args.seeds.split(",") if s.strip()]
    hf_lrs = [float(v) for v in args.hf_lrs.split(",") if v.strip()]
    data = tweet_ner(args.limit)
    runs: dict[str, list[dict]] = {"finegrain": [], **{f"hf_trainer_best lr {lr:g}": [] for lr in hf_lrs}}
    for index, seed in enumerate(seeds):
        if args.turns:
            names = list(runs) if index % 2 == 0 else list(runs)[::-1]  # who goes first alternates
            commands = [_command(args, name, seed) + ["--windows"] for name in names]
            samples = len(data["train"][0]) * args.epochs
            for name, (result, stopped) in zip(names, take_turns(commands, args.turns)):
                result["samples_per_second"] = samples / running_seconds(result.pop("windows"), stopped)
                runs[name].append(result)
        elif args.fresh:
            names = list(runs) if index % 2 == 0 else list(runs)[::-1]  # who goes first alternates
            for name in names:
                runs[name].append(_in_new_process(args, name, seed))
        else:
            with tempfile.TemporaryDirectory() as workdir:
                runs["finegrain"].append(run_finegrain(args.limit, args.epochs, workdir, seed, args.lr))
                for lr in hf_lrs:
                    runs[f"hf_trainer_best lr {lr:g}"].append(run_hf(data, args.epochs, workdir, seed, lr))
        print(f"seed {seed}: " + ", ".join(f"{name} entity-F1 {scores[-1]['entity_f1']:.4f} "
                                          f"({scores[-1]['samples_per_second']:.1f} samples/s)"
                                          for name, scores in runs.items()), flush=True)
    print(f"\ntweet-ner: train {len(data['train'][0])} sentences, test {len(data['test'][0])}; model default "
          f"(MiniLM-L6-H384), max_length {MAX_LENGTH}, {args.epochs:g} epochs, batch {BATCH}, "
          f"seeds {','.join(map(str, seeds))}")
    for name, scores in runs.items():
        f1s = [s["entity_f1"] for s in scores]
        speeds = [s["samples_per_second"] for s in scores]
        print(f"  {name:26s} lr {scores[0]['lr']:<7g} entity-F1 (strict IOB2, test) {_mean_std(f1s)}  "
              f"train samples/s {_mean_std(speeds)}  ({scores[0]['precision']}, transformers "
              f"{scores[0].get('transformers', transformers_version())})")
    mean = {name: [sum(s[key] for s in scores) / len(scores) for key in ("entity_f1", "samples_per_second")]
            for name, scores in runs.items()}
    ours = mean.pop("finegrain")
    for name, plain in mean.items():
        print(f"  ratio of means finegrain / {name}: entity-F1 {ours[0] / max(plain[0], 1e-9):.3f}, "
              f"samples/s {ours[1] / plain[1]:.3f}")
        pairs = [f["samples_per_second"] / h["samples_per_second"] for f, h in zip(runs["finegrain"], runs[name])]
        print(f"  per-seed speed ratios finegrain / {name}: " + ", ".join(f"{r:.2f}" for r in pairs))


def _command(args: argparse.Namespace, name: str, seed: int) -> list[str]:
    side = "finegrain" if name == "finegrain" else "trainer"
    command = [*python_for(side, args.trainer_transformers), __file__, "--one", name, "--seeds", str(seed),
               "--epochs", str(args.epochs)]
    command += ["--limit", str(args.limit)] if args.limit else []
    return command + (["--lr", str(args.lr)] if args.lr else [])


def _in_new_process(args: argparse.Namespace, name: str, seed: int) -> dict:
    lines = subprocess.run(_command(args, name, seed), check=True, capture_output=True, text=True).stdout.splitlines()
    return json.loads(next(line for line in reversed(lines) if line.startswith("{")))


def _one(args: argparse.Namespace) -> None:
    seed = int(args.seeds)
    windows: list = []
    with tempfile.TemporaryDirectory() as workdir:
        if args.one == "finegrain":
            windows = record_finegrain_steps() if args.windows else []
            result = run_finegrain(args.limit, args.epochs, workdir, seed, args.lr)
        else:
            lr = float(args.one.rsplit(" ", 1)[1])  # "hf_trainer_best lr 5e-05"
            callback, windows = trainer_step_callback() if args.windows else (None, [])
            result = run_hf(tweet_ner(args.limit), args.epochs, workdir, seed, lr, [callback] if callback else None)
    if args.windows:
        result["windows"] = windows
    print(json.dumps({**result, "transformers": transformers_version()}))


if __name__ == "__main__":
    main()
