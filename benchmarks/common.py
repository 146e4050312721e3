"""Shared pieces of the benchmark scripts: the same data for finegrain and the plain HF scripts."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from finegrain.data.sources import load_splits  # noqa: E402
from finegrain.models.catalog import default_model_path  # noqa: E402

MODEL = str(default_model_path())


def builtin_data(name: str, n_train: int | None, seed: int = 0) -> dict:
    """Texts and label ids of a built-in dataset's (subsampled) train and its test split."""
    splits = load_splits(name, None, None, columns={"text": "text", "label": "label"}, stratify="label",
                         validation_fraction=0.1, max_train_examples=n_train, seed=seed)
    names = sorted(set(splits["train"].frame["label"]))
    index = {n: i for i, n in enumerate(names)}
    out = {"labels": names}
    for split in ("train", "validation", "test"):
        frame = splits[split].frame
        out[split] = (frame["text"].tolist(), [index[v] for v in frame["label"]])
    return out


def finegrain_config(name: str, n_train: int | None, output: str, **train) -> dict:
    return {"model": {"name": "default", "max_length": 128},
            "data": {"train": name, "max_train_examples": n_train},
            "train": {"batch_size": 16, "lr": 5e-5, "seed": 0, "log_every": 50, **train},
            "output": output}


def fast_bf16() -> bool:
    """Whether the Trainer "at its best" trains in bf16: where finegrain's ``train.precision: auto`` does, i.e.
    where the hardware runs bf16 fast (emulated bf16 is many times slower: results/bf16_probe.txt)."""
    import torch

    from finegrain.training.precision import resolve_precision

    return resolve_precision("auto", "cuda" if torch.cuda.is_available() else "cpu") == "bf16"


def run_precision(info: dict) -> str:
    """A run.json's precision as a reader says it: accelerate records plain fp32 as "no"."""
    return "fp32" if info["precision"] == "no" else info["precision"]


def transformers_version() -> str:
    import transformers

    return transformers.__version__


def row(cells: list, widths: list[int]) -> str:
    return "  ".join(str(c).ljust(w) for c, w in zip(cells, widths))
