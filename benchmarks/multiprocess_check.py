"""Check a run under several processes (DDP, FSDP, DeepSpeed): the best model saved from the gathered
weights, reloaded in one process, scores exactly what the run recorded (its best evaluation and
metrics.json, both computed with evaluation split between the processes).

A tiny BERT and synthetic data (tests/conftest.py) keep it to seconds and need no download. Launch it
like any training script; the main process prints one JSON line and the exit status says pass/fail:

    python benchmarks/multiprocess_check.py /tmp/mp-one                                    # reference
    accelerate launch --multi_gpu --num_processes 2 benchmarks/multiprocess_check.py /tmp/mp-ddp
    accelerate launch --use_fsdp --num_processes 2 benchmarks/multiprocess_check.py /tmp/mp-fsdp
    accelerate launch --use_fsdp --fsdp_version 2 --num_processes 2 benchmarks/multiprocess_check.py /tmp/mp-fsdp2

FSDP needs GPUs (accelerate turns it on for MULTI_GPU and the like, never for MULTI_CPU); one GPU with
``--num_processes 1`` still runs the FSDP-wrapped model, the gathering state dict and the lockstep
evaluation. On a CPU machine ``--multi_gpu`` starts two gloo processes.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import torch
from accelerate import PartialState

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

import finegrain  # noqa: E402
from conftest import make_sentiment_rows, make_tiny_model, write_csv  # noqa: E402


def _assets(root: Path) -> dict[str, str]:
    """The tiny model and train/validation/test files; an odd validation size gives uneven shares."""
    if not (root / "model" / "config.json").is_file():
        make_tiny_model(root / "model")
        for name, count, seed in (("train", 240, 1), ("validation", 67, 2), ("test", 61, 3)):
            write_csv(root / f"{name}.csv", make_sentiment_rows(count, seed=seed))
    return {name: str(root / f"{name}.csv") for name in ("train", "validation", "test")}


def main(work: Path) -> int:
    state = PartialState(cpu=not torch.cuda.is_available())  # as finegrain's Accelerator: gloo on a CPU machine
    with state.main_process_first():  # one process writes the assets, the others then read them
        data = _assets(work / "assets")
    run = work / "run"
    config = {"model": {"name": str(work / "assets" / "model"), "max_length": 32}, "data": data,
              "train": {"epochs": 2, "batch_size": 8, "lr": 1e-3, "eval_every": 5, "eval_batch_size": 64,
                        "precision": "fp32", "log_every": 10},  # fp32: the reload must match to the last digit
              "output": str(run)}
    finegrain.train(config, overwrite=True)
    if not state.is_main_process:
        return 0
    info = json.loads((run / "run.json").read_text(encoding="utf-8"))
    recorded = json.loads((run / "metrics.json").read_text(encoding="utf-8"))
    again = json.loads(json.dumps(finegrain.evaluate(run)))  # one process, as a user reloads the run
    checks = {"reload_reproduces_metrics": all(again[s] == recorded[s] for s in ("validation", "test")),
              "best_eval_is_saved_model": info["best_metric"] == recorded["validation"]["macro_f1"]}
    print(json.dumps({"distributed_type": str(state.distributed_type), "processes": state.num_processes,
                      "best_step": info["best_step"], "best_metric": info["best_metric"],
                      "validation_macro_f1": recorded["validation"]["macro_f1"],
                      "reloaded_macro_f1": again["validation"]["macro_f1"], **checks}))
    return 0 if all(checks.values()) else 1


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1])))
