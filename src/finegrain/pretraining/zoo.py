"""Registered models that finegrain builds itself on first use, then reuses from the user's cache.

``zh-small`` is a 4-layer, 256-hidden Chinese BERT (character-level WordPiece) pretrained from
scratch on the built-in Chinese corpora; building it is a pretraining run (a build's log:
benchmarks/results/zh_pretraining_full.txt), so it happens once, on first use. ``zh-medium``
(6 layers x 384, masked-LM over characters, every Chinese corpus) took 22-45 minutes here, so it
is built only when asked: ``finegrain pretrain --preset zh-medium``. The cache is
``$FINEGRAIN_CACHE`` or ``~/.cache/finegrain``; an interrupted build resumes.

Example:
    >>> from finegrain.models.catalog import resolve_model
    >>> path = resolve_model("zh-small")  # doctest: +SKIP
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from finegrain.data.package_wheels import cache_dir
from finegrain.errors import ModelError
from finegrain.models.catalog import ModelEntry
from finegrain.registry import MODELS

__all__ = ["ZH_SMALL", "ZH_MEDIUM", "PRESETS", "Preset", "cache_dir", "build_cached", "build_preset"]

# Same settings as configs/pretrain-zh-small.yaml (a test keeps the two equal).
ZH_SMALL: dict[str, Any] = {
    "model": {"vocab_size": 6000, "layers": 4, "hidden": 256, "heads": 4, "max_length": 128},
    "data": {"train": ["peoples-daily-1998", "chinese-reviews"], "validation_fraction": 0.01, "deduplicate": False},
    "masking": {"probability": 0.15, "whole_word": True, "pack": True},
    "train": {"epochs": 1, "batch_size": 32, "lr": 5.0e-4, "warmup": 0.06, "eval_every": 200, "log_every": 20},
}


# The objective comes from benchmarks/pretrain_objectives.py at equal CPU time (results/pretrain_objectives.txt,
# 5 minutes each, 3 fine-tuning seeds on chinese-reviews): masked-LM over characters 0.780 +- 0.009, with jieba
# whole words 0.776, ELECTRA 0.658 (half the steps per second, worse than random init at that budget). So
# masked-LM, characters, at 6 x 384, one epoch over every Chinese corpus (~8.1M characters deduplicated; a second
# epoch gave chinese-reviews 0.800 against 0.798: benchmarks/results/study_zh_medium_2ep).
ZH_MEDIUM: dict[str, Any] = {
    "model": {"vocab_size": 8000, "layers": 6, "hidden": 384, "heads": 6, "max_length": 128},
    "data": {"train": ["zh-all"], "validation_fraction": 0.005},
    "masking": {"probability": 0.15, "whole_word": True, "pack": True},
    "train": {"epochs": 1, "batch_size": 32, "lr": 5.0e-4, "warmup": 0.06, "eval_every": 500, "log_every": 50},
}


@dataclass(frozen=True)
class Preset:
    settings: dict[str, Any]
    minutes: int  # the build's expected time on 2 CPU cores, told before it starts
    on_first_use: bool  # built when a run first names it; otherwise only by finegrain pretrain --preset


PRESETS: dict[str, Preset] = {
    "zh-small": Preset(ZH_SMALL, 15, on_first_use=True),
    # zh-small's shape ran masked-LM at 16,573 tokens/s (bf16, pretrain_objectives.txt); 6 x 384 costs ~3.4x
    # per token: ~4,900 tokens/s over ~8.4M tokens, ~29 min, plus evaluations. An estimate, not a measured build.
    # measured: 1,313 s on 2 cores (2026-12-05); on 2026-12-06's 2-core machine it ran at ~26 samples/s, half that
    # speed (two epochs: 5,920 s, chinese-reviews no better than one epoch's: benchmarks/results/study_zh_medium_2ep)
    "zh-medium": Preset(ZH_MEDIUM, 45, on_first_use=False),
}


def _is_built(output: Path) -> bool:
    info = output / "run.json"
    return info.is_file() and json.loads(info.read_text(encoding="utf-8")).get("status") == "finished"


def _peek(name: str) -> str:
    output = cache_dir() / "models" / name
    if _is_built(output):
        return str(output / "model")
    return f"built on first use into {output}" if PRESETS[name].on_first_use else \
        f"not built (finegrain pretrain --preset {name})"


def build_cached(name: str, settings: dict[str, Any], minutes: int = 15, *, when: str = "on first use") -> Path:
    """The model folder of ``name`` in the cache, pretrained with ``settings`` unless already there."""
    output = cache_dir() / "models" / name
    if _is_built(output):
        return output / "model"
    from finegrain.pretraining.config import load_pretrain_config
    from finegrain.pretraining.runner import run_pretraining

    resume = (output / "config.yaml").is_file()
    print(f"finegrain: {'resuming the build of' if resume else 'building'} model '{name}' {when}"
          f" (pretraining, about {minutes} minutes on 2 CPU cores) into {output}", file=sys.stderr)
    config = load_pretrain_config({**settings, "output": str(output)})
    return run_pretraining(config, resume=resume).model_dir


def build_preset(name: str) -> Path:
    """``finegrain pretrain --preset NAME``: build (or resume, or find) a registered model."""
    preset = PRESETS[name]
    return build_cached(name, preset.settings, preset.minutes, when="as asked")


def _locate(name: str) -> Path:
    preset = PRESETS[name]
    if preset.on_first_use or _is_built(cache_dir() / "models" / name):
        return build_cached(name, preset.settings, preset.minutes)
    raise ModelError(f"Model '{name}' is not built yet: it is built only when asked (about {preset.minutes}"
                     " minutes on 2 CPU cores).", hint=f"Build it once with: finegrain pretrain --preset {name}")


MODELS.register("zh-small", ModelEntry(
    "Chinese BERT, 4 layers x 256 hidden, 4.8M parameters, character-level; pretrained on first use"
    " (~15 min on 2 CPU cores) from People's Daily 1998 + chinese-reviews train text, then cached",
    "zh", lambda: _locate("zh-small"), peek=lambda: _peek("zh-small")))
MODELS.register("zh-medium", ModelEntry(
    "Chinese BERT, 6 layers x 384 hidden, character-level, masked-LM; built only when asked (finegrain"
    " pretrain --preset zh-medium, 22-45 min on 2 CPU cores, measured) from every Chinese corpus",
    "zh", lambda: _locate("zh-medium"), peek=lambda: _peek("zh-medium")))
