"""Run directories: what a run writes, and the rules that keep finished work safe.

A run directory holds everything needed to use the run again: ``config.yaml`` (resolved),
``labels.json``, ``model/`` (Hugging Face / PEFT format, tokenizer included), ``metrics.json``,
``run.json`` (versions, seed, timings, parameter counts), ``report.md`` with ``plots/``,
``log.jsonl`` and ``checkpoints/last`` (for --resume).
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path

import yaml

from finegrain.errors import RunDirError

__all__ = ["RunDir", "prepare_run_dir", "open_run_dir", "changed_keys"]

_OWNED = ("config.yaml", "labels.json", "model", "metrics.json", "run.json", "report.md", "plots",
          "log.jsonl", "checkpoints", ".model.tmp", ".model.old")


@dataclass(frozen=True)
class RunDir:
    path: Path

    @property
    def config(self) -> Path:
        return self.path / "config.yaml"

    @property
    def labels(self) -> Path:
        return self.path / "labels.json"

    @property
    def model(self) -> Path:
        return self.path / "model"

    @property
    def metrics(self) -> Path:
        return self.path / "metrics.json"

    @property
    def info(self) -> Path:
        return self.path / "run.json"

    @property
    def log(self) -> Path:
        return self.path / "log.jsonl"

    @property
    def checkpoint(self) -> Path:
        return self.path / "checkpoints" / "last"

    def is_run(self) -> bool:
        return self.config.is_file()

    def is_finished(self) -> bool:
        if not self.info.is_file():
            return False
        return json.loads(self.info.read_text(encoding="utf-8")).get("status") == "finished"


def prepare_run_dir(path: str | Path, config_text: str, *, resume: bool, overwrite: bool) -> RunDir:
    """Create or reuse a run directory; refuse to mix a different run into it."""
    run = RunDir(Path(path))
    if resume and overwrite:
        raise RunDirError("--resume and --overwrite contradict each other.", hint="Choose one.")
    if run.path.exists() and not run.path.is_dir():
        raise RunDirError(f"The output '{run.path}' is a file, not a directory.", hint="Choose another output.")
    if run.path.is_dir() and any(run.path.iterdir()):
        if not run.is_run():
            raise RunDirError(
                f"The output directory '{run.path}' holds files that are not a finegrain run; refusing to write there.",
                hint="Choose an empty or new output directory (output=... or --output).",
            )
        if overwrite:
            for name in _OWNED:
                target = run.path / name
                shutil.rmtree(target) if target.is_dir() else target.unlink(missing_ok=True)
        elif resume:
            _check_same_config(run, config_text)
        else:
            state = "a finished run" if run.is_finished() else "an unfinished run"
            raise RunDirError(
                f"The output directory '{run.path}' already holds {state}.",
                hint="Add --resume to continue it, --overwrite to replace it, or choose another output.",
            )
    elif resume:
        raise RunDirError(f"Nothing to resume: '{run.path}' holds no run.", hint="Run again without --resume.")
    run.path.mkdir(parents=True, exist_ok=True)
    if not run.config.is_file():
        run.config.write_text(config_text, encoding="utf-8")
    return run


def _check_same_config(run: RunDir, config_text: str) -> None:
    saved = yaml.safe_load(run.config.read_text(encoding="utf-8"))
    new = yaml.safe_load(config_text)
    changed = sorted(changed_keys(saved, new, ignore_added=True))
    if changed:
        raise RunDirError(
            f"Cannot resume '{run.path}': its config differs in {', '.join(changed)}.",
            hint="Resume with the same config, or use --overwrite (or another output) for a new run.",
        )


def changed_keys(old, new, prefix: str = "", *, ignore_added: bool = False) -> set[str]:
    """Dotted keys whose values differ. ``ignore_added``: a key only ``new`` has does not count (a newer
    finegrain added it; its default is what the saved run used)."""
    if isinstance(old, dict) and isinstance(new, dict):
        keys = set(old) | (set() if ignore_added else set(new))
        return set().union(*(changed_keys(old.get(k), new.get(k), f"{prefix}{k}.", ignore_added=ignore_added)
                             for k in keys)) if keys else set()
    return {prefix.rstrip(".")} if old != new else set()


def open_run_dir(path: str | Path) -> RunDir:
    """An existing, finished run directory (for eval, predict, load)."""
    run = RunDir(Path(path))
    if not run.path.is_dir():
        raise RunDirError(f"Run directory '{run.path}' does not exist.", hint="Give the output folder of a finegrain train run.")
    if not run.is_run() or not run.model.is_dir():
        raise RunDirError(
            f"'{run.path}' is not a finished finegrain run (no config.yaml or model/ folder).",
            hint="Train it first (finegrain train ... or --resume an interrupted run).",
        )
    return run
