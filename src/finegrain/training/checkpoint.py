"""Atomic checkpoints: a kill at any moment leaves either the old or the new one, never half.

A checkpoint is written to a temporary folder, then swapped in with renames. The training
position (epoch, batches done, best metric, history) is saved beside accelerate's state
(model, optimizer, scheduler, random number generators).
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["TrainerState", "atomic_write_dir", "swap_in", "state_dict", "latest_checkpoint", "read_state", "write_json_atomic"]

STATE_FILE = "trainer_state.json"


@dataclass
class TrainerState:
    """Where training stands; enough to continue exactly after a kill."""

    global_step: int = 0
    epoch: int = 0
    batches_done: int = 0  # batches of the current epoch already consumed
    samples_seen: int = 0
    train_seconds: float = 0.0
    best_metric: float | None = None
    best_step: int | None = None
    evals_without_gain: int = 0
    last_eval_step: int | None = None
    stopped_early: bool = False
    compact_embeddings: bool = False  # the checkpoint holds a CompactEmbedding (checkpoints before it: dense)
    history: list[dict[str, Any]] = field(default_factory=list)


def write_json_atomic(path: Path, data: Any) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(data, indent=2, ensure_ascii=False, default=str), encoding="utf-8")
    tmp.replace(path)


def atomic_write_dir(target: Path, write: Callable[[Path], None]) -> None:
    """Call ``write(tmp_dir)``, then swap it in for ``target``."""
    tmp = target.with_name(f".{target.name}.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    write(tmp)
    swap_in(tmp, target)


def swap_in(ready: Path, target: Path) -> None:
    """Replace ``target`` by the complete folder ``ready`` in two renames (see latest_checkpoint)."""
    old = target.with_name(f".{target.name}.old")
    if target.exists():
        shutil.rmtree(old, ignore_errors=True)
        target.rename(old)
    ready.rename(target)
    shutil.rmtree(old, ignore_errors=True)


def finish_interrupted_swap(ready: Path, target: Path) -> None:
    """Complete a :func:`swap_in` that a kill stopped between its two renames (``target`` gone, its old copy
    beside it): ``ready`` takes its place if it is still there, else the old copy comes back."""
    old = target.with_name(f".{target.name}.old")
    if target.exists() or not old.is_dir():
        return
    (ready if ready.is_dir() else old).rename(target)
    shutil.rmtree(old, ignore_errors=True)


def latest_checkpoint(target: Path) -> Path | None:
    """The complete checkpoint at ``target``, or the previous one if a kill hit between renames."""
    for candidate in (target, target.with_name(f".{target.name}.old")):
        if (candidate / STATE_FILE).is_file():
            return candidate
    return None


def read_state(checkpoint: Path) -> TrainerState:
    return TrainerState(**json.loads((checkpoint / STATE_FILE).read_text(encoding="utf-8")))


def state_dict(state: TrainerState) -> dict[str, Any]:
    return asdict(state)
