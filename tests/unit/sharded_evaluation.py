"""Evaluation through the run's own path, in one process or (as a script under ``accelerate launch``)
in several: a fixed, seeded model scores each config's validation split, and each process writes
what it got and how many examples it ran itself to ``OUT/<task>-rank<r>.json``.

    accelerate launch --multi_gpu --num_processes 2 sharded_evaluation.py OUT a.yaml b.yaml
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import torch
from accelerate.utils import set_seed

from finegrain.config import load_config
from finegrain.training.distributed import evaluation_shard
from finegrain.training.inference import Shard
from finegrain.training.validation import evaluate_split
from finegrain.training.runner import build_accelerator
from finegrain.training.setup import prepare


def score(config_path: str, shard_of: Any = None) -> dict[str, Any]:
    """Metrics, logits and the examples this process ran; ``shard_of`` is an Accelerator or None (one process)."""
    config = load_config(config_path)
    prepared = prepare(config)
    set_seed(0)  # the head is new: the same seed gives every process (and the test) the same model
    model = prepared.task.build_model(prepared.model_path, prepared.labels)
    scored: list[int] = []
    model.register_forward_pre_hook(lambda module, args, kwargs: scored.append(len(kwargs["input_ids"])),
                                    with_kwargs=True)
    shard = evaluation_shard(shard_of) if shard_of is not None else Shard()
    metrics, logits = evaluate_split(model, prepared.task, prepared.splits["validation"],
                                     prepared.features["validation"], prepared.labels,
                                     batch_size=config.train.eval_batch_size,
                                     pad_id=prepared.tokenizer.pad_token_id or 0, device=torch.device("cpu"),
                                     dtype=None, shard=shard)
    return {"task": config.task.name, "metrics": metrics, "logits": [row.tolist() for row in logits],
            "scored": sum(scored), "forwards": len(scored), "examples": len(logits)}


def main(out: str, config_paths: list[str]) -> None:
    accelerator = build_accelerator(load_config(config_paths[0]).train)
    for path in config_paths:
        result = score(path, accelerator)
        target = Path(out) / f"{result['task']}-rank{accelerator.process_index}.json"
        target.write_text(json.dumps({**result, "processes": accelerator.num_processes}), encoding="utf-8")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2:])
