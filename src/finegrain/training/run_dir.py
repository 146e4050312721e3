"""Run directories: what a run writes, and the rules that keep finished work safe.

A run directory holds everything needed to use the run again: ``config.yaml`` (resolved),
``labels.json``, ``model/`` (Hugging Face / PEFT format, tokenizer included), ``metrics.json``,
``run.json`` (versions, seed, timings, parameter counts), ``report.md`` with ``plots/``,
``log.jsonl`` and ``checkpoints/last`` (for --resume).

With --overwrite the new run is written beside the old one, in ``.NAME.overwrite``, and takes its
place only once it has finished (:mod:`finegrain.training.run_guard`): a replacement that fails
leaves the finished run as it was.
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import yaml

from finegrain.config import without_retired
from finegrain.errors import RunDirError
from finegrain.training.checkpoint import finish_interrupted_swap, latest_checkpoint

__all__ = ["RunDir", "RunResult", "prepare_run_dir", "open_run_dir", "run_dir_for", "check_model_kept", "changed_keys",
           "evaluation_path"]


@dataclass(frozen=True)
class RunDir:
    path: Path
    replaces: Path | None = None  # with --overwrite: the run this one replaces once it has finished
    created: Path | None = None  # the highest folder this session created for the run (removed if it fails early)

    @property
    def final(self) -> Path:
        """Where the run lives once it has finished."""
        return self.replaces or self.path

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

    def has_progress(self) -> bool:
        """Whether training got far enough to leave something worth keeping: a model or a checkpoint."""
        return self.model.is_dir() or latest_checkpoint(self.checkpoint) is not None


@dataclass
class RunResult:
    """A finished training run: where it is, and its metrics per split."""

    run_dir: Path
    metrics: dict[str, dict[str, Any]]


def run_dir_for(path: str | Path, *, overwrite: bool) -> RunDir:
    """The folder a run writes to: ``path``, or with ``overwrite`` the staging folder beside it."""
    path = Path(path)
    if not overwrite:
        return RunDir(path)
    absolute = Path(os.path.abspath(path))  # a name even for '.', without following links
    return RunDir(absolute.with_name(f".{absolute.name}.overwrite"), replaces=path)


def prepare_run_dir(path: str | Path, config_text: str, *, resume: bool, overwrite: bool) -> RunDir:
    """Create or reuse a run directory; refuse to mix a different run into it.

    With ``overwrite`` the returned run is the staging folder (see the module docstring).
    """
    _finish_swap(path)
    run = RunDir(Path(path))
    if resume and overwrite:
        raise RunDirError("--resume and --overwrite contradict each other.", hint="Choose one.")
    if run.path.exists() and not run.path.is_dir():
        raise RunDirError(f"The output '{run.path}' is a file, not a directory.", hint="Choose another output.")
    if resume:
        _refuse_killed_overwrite(run.path)
    if run.path.is_dir() and any(run.path.iterdir()):
        if not run.is_run():
            raise RunDirError(
                f"The output directory '{run.path}' holds files that are not a finegrain run; refusing to write there.",
                hint="Choose an empty or new output directory (output=... or --output).",
            )
        if resume:
            _check_same_config(run, config_text)
        elif not overwrite:
            state = "a finished run" if run.is_finished() else "an unfinished run"
            raise RunDirError(
                f"The output directory '{run.path}' already holds {state}.",
                hint="Add --resume to continue it, --overwrite to replace it, or choose another output.",
            )
    elif resume:
        raise RunDirError(f"Nothing to resume: '{run.path}' holds no run.", hint="Run again without --resume.")
    run = run_dir_for(path, overwrite=overwrite)
    if overwrite:  # what a killed replacement left: it cannot be resumed, so it starts over
        shutil.rmtree(run.path, ignore_errors=True)
    return _create(run, config_text)


def _create(run: RunDir, config_text: str) -> RunDir:
    """Make the run's folder (with its parents) and its config; remember what did not exist before."""
    created = next((folder for folder in reversed((run.path, *run.path.parents)) if not folder.exists()), None)
    try:
        run.path.mkdir(parents=True, exist_ok=True)
        if not run.config.is_file():
            run.config.write_text(config_text, encoding="utf-8")
    except OSError as error:
        if created is not None:
            shutil.rmtree(created, ignore_errors=True)
        raise RunDirError(f"Cannot write the output directory '{run.final}': {error.strerror or error}"
                          f" ('{error.filename or run.path}').",
                          hint="Choose an output folder you can write to (output=... or --output),"
                          " or make this one writable.") from None
    return replace(run, created=created)


def _finish_swap(path: str | Path) -> None:
    """A kill between the two renames that put a finished --overwrite in place (run_guard.py) left no run at
    ``path``: the finished replacement takes its place now (or the old run comes back)."""
    finish_interrupted_swap(run_dir_for(path, overwrite=True).path, Path(os.path.abspath(path)))


def _refuse_killed_overwrite(path: Path) -> None:
    staging = run_dir_for(path, overwrite=True).path
    if staging.exists():
        raise RunDirError(
            f"An --overwrite of '{path}' was stopped before it finished and left its unfinished replacement in"
            f" '{staging}', which --resume cannot continue; the run in '{path}' (if any) is as it was.",
            hint=f"Run the --overwrite command again (it starts the replacement over), or delete '{staging}'"
            f" to --resume the run in '{path}'.")


def _check_same_config(run: RunDir, config_text: str) -> None:
    # keys a newer finegrain retired are not a change: the run resumes under what replaced them
    saved = without_retired(yaml.safe_load(run.config.read_text(encoding="utf-8")))
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
    _finish_swap(path)
    run = RunDir(Path(path))
    if not run.path.is_dir():
        raise RunDirError(f"Run directory '{run.path}' does not exist.", hint="Give the output folder of a finegrain train run.")
    if not run.is_run():
        raise RunDirError(f"'{run.path}' is not a finegrain run (no config.yaml).",
                          hint="Give the output folder of a finegrain train run.")
    if run.is_finished():
        check_model_kept(run)
    elif not run.model.is_dir():
        raise RunDirError(f"'{run.path}' is an unfinished run: it has no model/ folder yet.",
                          hint="Continue it: the same 'finegrain train' command with --resume.")
    return run


def check_model_kept(run: RunDir) -> None:
    """A finished run whose model/ folder was deleted: nothing to use, and nothing --resume can rebuild."""
    if not run.model.is_dir():
        raise RunDirError(
            f"'{run.path}' is a finished run, but its model/ folder is missing: there is no model to use.",
            hint="Train it again: the command that made it ('finegrain train ...') with --overwrite. model/ was the"
            " only copy of the kept model (checkpoints/last holds the last training step, not the kept model).")


def evaluation_path(run_path: str | Path, name: str) -> Path:
    """Where ``finegrain eval --data`` writes a run's results on the data ``name`` (a file's stem or a
    dataset name such as ``bbc-news:test``): ``RUN/evaluations/<name>.json``, ``/`` and ``:`` made ``_``."""
    return Path(run_path) / "evaluations" / f"{name.replace('/', '_').replace(':', '_')}.json"
