"""Pretraining objectives at equal CPU time: masked-LM vs ELECTRA, character vs jieba whole-word masking.

Each variant pretrains the same architecture from scratch on the same corpus for the same training
time (a short pilot run measures its seconds per step; the real run takes as many steps as fit the
budget), then is fine-tuned the same way on chinese-reviews; the test macro-F1 is printed beside
its pretraining tokens/s. A plain Hugging Face run_mlm-style Trainer (BertForMaskedLM of the same
shape, the same tokenizer, text concatenated and cut into blocks as run_mlm's group_texts,
DataCollatorForLanguageModeling, bf16 where finegrain uses it, no eval or saving) gives the reference
tokens/s (goal: finegrain >= 1.2x). tokens/s = steps x batch x block / training seconds.

    # the measurement (zh-small's shape and corpus, 10 minutes of pretraining per variant, 3 seeds of fine-tuning)
    python benchmarks/pretrain_objectives.py --seconds 600 --seeds 0 1 2
    # proof that it runs (seconds)
    python benchmarks/pretrain_objectives.py --shape tiny --seconds 4 --max-documents 3000 --n-train 300 \\
        --epochs 1 --trainer-steps 4
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

from common import fast_bf16

import finegrain
from finegrain.pretraining.config import load_pretrain_config
from finegrain.pretraining.corpus import read_sources
from finegrain.pretraining.runner import run_pretraining
from finegrain.pretraining.zoo import ZH_SMALL

VARIANTS = {  # name -> (objective, segmenter)
    "mlm": ("mlm", "characters"),
    "mlm-wwm": ("mlm", "jieba"),
    "electra": ("electra", "characters"),
    "electra-wwm": ("electra", "jieba"),
}
SHAPES = {"small": ZH_SMALL["model"], "tiny": {"vocab_size": 3000, "layers": 2, "hidden": 64, "heads": 2,
                                               "max_length": 64}}
BATCH = ZH_SMALL["train"]["batch_size"]
PILOT_STEPS = 6


def pretrain(variant: str, shape: dict, args: argparse.Namespace, output: str, steps: int) -> dict:
    objective, segmenter = VARIANTS[variant]
    config = load_pretrain_config({
        "model": shape, "data": {"train": args.corpus, "validation_fraction": 0.01,
                                 "max_documents": args.max_documents},
        "masking": {"probability": 0.15, "whole_word": True, "segmenter": segmenter, "pack": True},
        "objective": objective,
        "train": {**ZH_SMALL["train"], "max_steps": steps, "eval_every": max(steps // 2, 1),
                  "log_every": max(min(steps // 4, 20), 1)},
        "output": output})
    result = run_pretraining(config, overwrite=True)
    info = json.loads((result.output / "run.json").read_text())
    seconds = info["timing"]["train_seconds"]
    return {"steps": info["steps"], "seconds": seconds, "model": str(result.output),
            "tokens_per_second": info["steps"] * BATCH * shape["max_length"] / max(seconds, 1e-9),
            "characters": info["corpus"]["characters"], "held_out": info["validation"]}


def equal_time_pretrain(variant: str, shape: dict, args: argparse.Namespace, workdir: str) -> dict:
    """A pilot run for the seconds per step, then as many steps as fit ``args.seconds``."""
    pilot = pretrain(variant, shape, args, f"{workdir}/{variant}-pilot", PILOT_STEPS)
    steps = max(1, round(args.seconds * pilot["steps"] / max(pilot["seconds"], 1e-9)))
    return pretrain(variant, shape, args, f"{workdir}/{variant}", steps)


def fine_tune(model: str, max_length: int, args: argparse.Namespace, seed: int, output: str,
              random_init: bool = False) -> float:
    result = finegrain.train({
        "model": {"name": model, "max_length": max_length, "random_init": random_init},
        "data": {"train": "chinese-reviews", "max_train_examples": args.n_train},
        "train": {"epochs": args.epochs, "batch_size": 32, "lr": args.lr, "seed": seed, "log_every": 50},
        "output": output}, overwrite=True)
    return result.metrics["test"]["macro_f1"]


def trainer_tokens_per_second(tokenizer_dir: str, shape: dict, args: argparse.Namespace, output: str) -> float:
    """run_mlm's way: group_texts blocks, DataCollatorForLanguageModeling, Trainer.train()."""
    import datasets
    import torch
    from transformers import (AutoTokenizer, BertConfig, BertForMaskedLM, DataCollatorForLanguageModeling, Trainer,
                              TrainingArguments, set_seed)
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    datasets.disable_progress_bars()
    set_seed(0)
    block = shape["max_length"]
    tokenizer = AutoTokenizer.from_pretrained(tokenizer_dir)
    model = BertForMaskedLM(BertConfig(vocab_size=len(tokenizer), hidden_size=shape["hidden"],
                                       num_hidden_layers=shape["layers"], num_attention_heads=shape["heads"],
                                       intermediate_size=4 * shape["hidden"], max_position_embeddings=block))
    documents = read_sources(args.corpus, "text")[: args.max_documents]
    raw = datasets.Dataset.from_dict({"text": documents})
    tokenized = raw.map(lambda b: tokenizer(b["text"], return_special_tokens_mask=True), batched=True,
                        remove_columns=["text"])

    def group_texts(examples):
        joined = {k: sum(examples[k], []) for k in examples}
        total = (len(joined["input_ids"]) // block) * block
        return {k: [v[i:i + block] for i in range(0, total, block)] for k, v in joined.items()}

    blocks = tokenized.map(group_texts, batched=True)
    training = TrainingArguments(output_dir=output, per_device_train_batch_size=BATCH, max_steps=args.trainer_steps,
                                 learning_rate=5e-4, weight_decay=0.01, warmup_steps=0.06, bf16=fast_bf16(),
                                 eval_strategy="no", save_strategy="no", report_to="none", disable_tqdm=True,
                                 logging_strategy="no", seed=0, use_cpu=not torch.cuda.is_available())
    trainer = Trainer(model=model, args=training, train_dataset=blocks, processing_class=tokenizer,
                      data_collator=DataCollatorForLanguageModeling(tokenizer, mlm_probability=0.15))
    start = time.perf_counter()
    trainer.train()
    return args.trainer_steps * BATCH * block / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--variants", nargs="+", choices=list(VARIANTS), default=list(VARIANTS))
    parser.add_argument("--shape", choices=list(SHAPES), default="small")
    parser.add_argument("--seconds", type=float, default=600, help="pretraining seconds per variant")
    parser.add_argument("--corpus", nargs="+", default=ZH_SMALL["data"]["train"])
    parser.add_argument("--max-documents", type=int, default=None)
    parser.add_argument("--n-train", type=int, default=None, help="chinese-reviews training examples (default: all)")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--lr", type=float, default=3e-4)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--trainer-steps", type=int, default=60)
    parser.add_argument("--random-init", action="store_true",
                        help="also fine-tune the same architecture from random weights (the floor to beat)")
    args = parser.parse_args()
    shape = SHAPES[args.shape]
    rows = {}
    with tempfile.TemporaryDirectory() as workdir:
        for variant in args.variants:
            run = equal_time_pretrain(variant, shape, args, workdir)
            scores = [fine_tune(run["model"], shape["max_length"], args, seed, f"{workdir}/{variant}-tuned-{seed}")
                      for seed in args.seeds]
            rows[variant] = {**run, "macro_f1": scores}
            print(f"{variant}: {run['steps']} steps in {run['seconds']:.0f} s, {run['tokens_per_second']:.0f} tokens/s,"
                  f" macro-F1 {', '.join(f'{s:.3f}' for s in scores)}", flush=True)
        if args.random_init:  # the same architecture and tokenizer, no pretraining: what pretraining must beat
            model = rows[args.variants[0]]["model"]
            scores = [fine_tune(model, shape["max_length"], args, seed, f"{workdir}/random-tuned-{seed}", True)
                      for seed in args.seeds]
            print(f"random init: macro-F1 {', '.join(f'{s:.3f}' for s in scores)}", flush=True)
            rows["random init"] = {"steps": 0, "tokens_per_second": 0.0, "macro_f1": scores, "held_out": {}}
        tokenizer_dir = str(Path(rows[args.variants[0]]["model"]) / "model")
        trainer = trainer_tokens_per_second(tokenizer_dir, shape, args, f"{workdir}/trainer")
    first = rows[args.variants[0]]
    print(f"\n{args.shape} shape {shape}, corpus {' + '.join(args.corpus)} ({first['characters']:,} characters),"
          f" {args.seconds:g} s of pretraining per variant, batch {BATCH}; fine-tuned on chinese-reviews"
          f" ({args.n_train or 'all'} examples, {args.epochs} epochs, lr {args.lr:g}), seeds {args.seeds}\n")
    print(f"{'variant':12s} {'steps':>6s} {'tokens/s':>9s} {'vs Trainer':>10s} {'macro-F1 (mean)':>16s}  held-out")
    for variant, row in rows.items():
        held = {k: v for k, v in row["held_out"].items() if k in ("loss", "accuracy", "discriminator_accuracy")}
        spread = f" ± {statistics.stdev(row['macro_f1']):.3f}" if len(row["macro_f1"]) > 1 else ""
        print(f"{variant:12s} {row['steps']:6d} {row['tokens_per_second']:9.0f} "
              f"{row['tokens_per_second'] / trainer:9.2f}x {statistics.mean(row['macro_f1']):10.3f}{spread:6s}  {held}")
    print(f"{'HF Trainer':12s} {args.trainer_steps:6d} {trainer:9.0f} {1:9.2f}x  (run_mlm-style masked-LM, same shape)")


if __name__ == "__main__":
    main()
