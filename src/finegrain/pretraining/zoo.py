"""Registered models that finegrain builds itself on first use, then reuses from the user's cache.

``zh-small`` is a 4-layer, 256-hidden Chinese BERT (character-level WordPiece) pretrained from
scratch on the built-in Chinese corpora; building it is a pretraining run (a build's log:
benchmarks/results/zh_pretraining_full.txt), so it happens once. The
cache is ``$FINEGRAIN_CACHE`` or ``~/.cache/finegrain``; an interrupted build resumes.

Example:
    >>> from finegrain.models.catalog import resolve_model
    >>> path = resolve_model("zh-small")  # doctest: +SKIP
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from finegrain.data.package_wheels import cache_dir
from finegrain.models.catalog import ModelEntry
from finegrain.registry import MODELS

__all__ = ["ZH_SMALL", "cache_dir", "build_cached"]

# Same settings as configs/pretrain-zh-small.yaml (a test keeps the two equal).
ZH_SMALL: dict[str, Any] = {
    "model": {"vocab_size": 6000, "layers": 4, "hidden": 256, "heads": 4, "max_length": 128},
    "data": {"train": ["peoples-daily-1998", "chinese-reviews"], "validation_fraction": 0.01, "deduplicate": False},
    "masking": {"probability": 0.15, "whole_word": True, "pack": True},
    "train": {"epochs": 1, "batch_size": 32, "lr": 5.0e-4, "warmup": 0.06, "eval_every": 200, "log_every": 20},
}


def _is_built(output: Path) -> bool:
    info = output / "run.json"
    return info.is_file() and json.loads(info.read_text(encoding="utf-8")).get("status") == "finished"


def _peek(name: str) -> str:
    output = cache_dir() / "models" / name
    return str(output / "model") if _is_built(output) else f"built on first use into {output}"


def build_cached(name: str, settings: dict[str, Any]) -> Path:
    """The model folder of ``name`` in the cache, pretrained with ``settings`` unless already there."""
    output = cache_dir() / "models" / name
    if _is_built(output):
        return output / "model"
    from finegrain.pretraining.config import load_pretrain_config
    from finegrain.pretraining.runner import run_pretraining

    resume = (output / "config.yaml").is_file()
    print(f"finegrain: {'resuming the build of' if resume else 'building'} model '{name}' on first use"
          f" (pretraining, about 15 minutes on 2 CPU cores) into {output}", file=sys.stderr)
    config = load_pretrain_config({**settings, "output": str(output)})
    return run_pretraining(config, resume=resume).model_dir


MODELS.register("zh-small", ModelEntry(
    "Chinese BERT, 4 layers x 256 hidden, 4.8M parameters, character-level; pretrained on first use"
    " (~15 min on 2 CPU cores) from People's Daily 1998 + chinese-reviews train text, then cached",
    "zh", lambda: build_cached("zh-small", ZH_SMALL), peek=lambda: _peek("zh-small")))
