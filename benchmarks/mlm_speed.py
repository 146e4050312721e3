"""Masked-LM throughput: ``finegrain pretrain`` versus a plain run_mlm-style Hugging Face Trainer.

Same corpus (the bbc-news training text), same model (the default MiniLM-L6, continued
pretraining: an MLM head is added), same sequences (text concatenated and cut into 128-token
blocks, as run_mlm's group_texts), 15% token masking, batch 16, the same number of steps. The
Trainer runs at its best: bf16, fused AdamW, DataCollatorForLanguageModeling, no eval/saving.
Runs alternate (A B A B) because a shared machine drifts; medians are printed.
tokens/s = steps x batch x 128 / training seconds (finegrain: its loop's clock, which leaves out
the held-out evaluation; Trainer: wall time around trainer.train()).

    python benchmarks/mlm_speed.py --steps 40 --repeats 2
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time

from common import MODEL

from finegrain.pretraining.config import load_pretrain_config
from finegrain.pretraining.corpora import CORPORA
from finegrain.pretraining.runner import run_pretraining

BLOCK = 128
BATCH = 16


def run_finegrain(steps: int, output: str) -> dict:
    config = load_pretrain_config({
        "model": {"name": "default", "max_length": BLOCK},
        "data": {"train": ["bbc-news"], "validation_fraction": 0.01},
        "masking": {"probability": 0.15, "whole_word": False, "pack": True},
        "train": {"max_steps": steps, "batch_size": BATCH, "lr": 1e-4, "warmup": 0.1, "log_every": 10},
        "output": output})
    run_pretraining(config, overwrite=True)
    info = json.loads(open(f"{output}/run.json").read())
    return {"tokens_per_second": steps * BATCH * BLOCK / info["timing"]["train_seconds"],
            "held_out_loss": info["validation"]["loss"]}


def run_trainer(steps: int, output: str) -> dict:
    import datasets
    import torch
    from transformers import (AutoModelForMaskedLM, AutoTokenizer, DataCollatorForLanguageModeling, Trainer,
                              TrainingArguments, set_seed)
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    set_seed(0)
    tokenizer = AutoTokenizer.from_pretrained(MODEL)
    model = AutoModelForMaskedLM.from_pretrained(MODEL)
    raw = datasets.Dataset.from_dict({"text": CORPORA.get("bbc-news").read()})
    tokenized = raw.map(lambda b: tokenizer(b["text"], return_special_tokens_mask=True), batched=True,
                        remove_columns=["text"])

    def group_texts(examples):  # run_mlm.py's: concatenate, then cut into full blocks
        joined = {k: sum(examples[k], []) for k in examples}
        total = (len(joined["input_ids"]) // BLOCK) * BLOCK
        return {k: [v[i:i + BLOCK] for i in range(0, total, BLOCK)] for k, v in joined.items()}

    blocks = tokenized.map(group_texts, batched=True)
    args = TrainingArguments(output_dir=output, per_device_train_batch_size=BATCH, max_steps=steps, learning_rate=1e-4,
                             weight_decay=0.01, warmup_steps=0.1, bf16=True, eval_strategy="no", save_strategy="no",
                             report_to="none", disable_tqdm=True, logging_strategy="no", seed=0,
                             use_cpu=not torch.cuda.is_available())
    trainer = Trainer(model=model, args=args, train_dataset=blocks, processing_class=tokenizer,
                      data_collator=DataCollatorForLanguageModeling(tokenizer, mlm_probability=0.15))
    start = time.perf_counter()
    trainer.train()
    return {"tokens_per_second": steps * BATCH * BLOCK / (time.perf_counter() - start)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=40)
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    runs: dict[str, list[dict]] = {"finegrain": [], "trainer": []}
    with tempfile.TemporaryDirectory() as workdir:
        for repeat in range(args.repeats):
            runs["finegrain"].append(run_finegrain(args.steps, f"{workdir}/fg{repeat}"))
            runs["trainer"].append(run_trainer(args.steps, f"{workdir}/hf{repeat}"))
            print(f"repeat {repeat}: finegrain {runs['finegrain'][-1]['tokens_per_second']:.0f} tokens/s,"
                  f" trainer {runs['trainer'][-1]['tokens_per_second']:.0f} tokens/s", flush=True)
    print(f"\nbbc-news text, default MiniLM-L6 + MLM head, {args.steps} steps x batch {BATCH} x {BLOCK} tokens, bf16\n")
    medians = {}
    for name, items in runs.items():
        speeds = [r["tokens_per_second"] for r in items]
        medians[name] = statistics.median(speeds)
        print(f"{name:10s} tokens/s median {medians[name]:8.0f}  runs {', '.join(f'{s:.0f}' for s in speeds)}")
    print(f"\nfinegrain held-out masked-LM loss after {args.steps} steps: {runs['finegrain'][-1]['held_out_loss']:.3f}")
    print(f"finegrain / trainer = {medians['finegrain'] / medians['trainer']:.2f}x")


if __name__ == "__main__":
    main()
