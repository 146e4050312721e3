"""Run a study: check everything first, then every cell (seed by seed), then aggregate and report.

The study folder holds ``study.yaml`` (the resolved study), ``data/`` (the samples every cell
trains on), ``cells/METHOD/size-N/seed-S/`` (one run each), ``results.json`` and the report.
A killed study loses no finished cell: ``--resume`` skips them and retries failed ones. The cells run
through an executor (``study.executor``): here one after another, or side by side on a Ray cluster.

Example:
    >>> result = run_study("configs/study-demo.yaml")  # doctest: +SKIP
    >>> result.report  # doctest: +SKIP
    PosixPath('studies/demo/report.html')
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from finegrain.errors import RunDirError
from finegrain.executors import Executor, Job, make_executor
from finegrain.registry import TASKS
from finegrain.study.aggregate import aggregate_study
from finegrain.study.cells import CELL_FILE, Cell, add_latency, needs_latency, read_cell, record_failure, run_cell
from finegrain.study.config import StudyConfig, dump_study_config, load_study_config
from finegrain.study.data import StudyData, prepare_study_data
from finegrain.study.report import write_study_report
from finegrain.tasks.base import Task
from finegrain.training.checkpoint import write_json_atomic
from finegrain.training.run_dir import changed_keys

__all__ = ["StudyResult", "run_study", "rebuild_report", "STUDY_FILE"]

STUDY_FILE = "study.yaml"
_OWNED = (STUDY_FILE, "data", "cells", "results.json", "report.md", "report.html", "plots")
_WHERE_IT_RUNS = ("executor",)  # sections that may change on --resume: they do not change a cell's result
OnCell = Callable[[int, int, Cell, dict[str, Any]], None]


@dataclass
class StudyResult:
    path: Path
    summary: dict[str, Any]
    report: Path


def run_study(source: StudyConfig | str | Path | dict[str, Any], overrides: list[str] | None = None, *,
              resume: bool = False, overwrite: bool = False,
              on_cell: OnCell | None = None) -> StudyResult:
    """Run every cell not yet finished, then aggregate and write the report.

    ``on_cell(index, total, cell, record)`` is called after each cell, in the order they finish (the CLI
    prints a line); a resumed study reports its finished cells first.
    """
    study = source if isinstance(source, StudyConfig) and not overrides else load_study_config(
        source.model_dump(mode="json") if isinstance(source, StudyConfig) else source, overrides)
    task = _build_task(study)
    executor = make_executor(study.executor)  # a missing ray fails here, before any work
    root = Path(study.output)
    data = prepare_study_data(study, task, root)  # before touching the folder: bad data writes nothing
    _open_folder(root, dump_study_config(study), resume=resume, overwrite=overwrite)
    cells = [Cell(variant, size, seed) for seed in study.seeds for size in study.sizes for variant in study.variants()]
    _run_cells(study, executor, cells, root, data, on_cell or (lambda *_: None))
    return _summarise(study, task, root, data.test_note)


def _run_cells(study: StudyConfig, executor: Executor, cells: list[Cell], root: Path, data: StudyData,
               on_cell: OnCell) -> None:
    """Run the unfinished cells on the executor, then time the cells that ran side by side, one at a time."""
    done, pending = 0, []
    for cell in cells:
        record = read_cell(cell.folder(root))
        if record is not None and record.get("status") == "finished":
            done += 1
            on_cell(done, len(cells), cell, record)
        else:
            data.files(cell.seed, cell.size)  # every cell's data is written before any cell starts
            pending.append(cell)
    jobs = [Job(cell, run_cell, (study, cell, root, data, not executor.parallel)) for cell in pending]
    for outcome in executor.run(jobs):
        cell = outcome.job.key
        record = outcome.value if outcome.error is None else record_failure(cell, root, data, outcome.error)
        if outcome.threads is not None:  # the CPU share the cell trained with: its figures depend on it
            record = _add_to_record(cell, root, threads=outcome.threads)
        done += 1
        on_cell(done, len(cells), cell, record)
    for cell in cells:  # a study killed between a parallel cell and its timing is timed on --resume
        record = read_cell(cell.folder(root))
        if record is not None and needs_latency(study, cell, record):
            add_latency(cell, root, data)


def _add_to_record(cell: Cell, root: Path, **fields: Any) -> dict[str, Any]:
    record = {**(read_cell(cell.folder(root)) or {}), **fields}
    write_json_atomic(cell.folder(root) / CELL_FILE, record)
    return record


def rebuild_report(folder: str | Path) -> StudyResult:
    """Aggregate the finished cells of a study folder again and rewrite its report."""
    root = Path(folder)
    study = load_study_config(root / STUDY_FILE)
    return _summarise(study, _build_task(study), root, _saved_note(root))


def _summarise(study: StudyConfig, task: Task, root: Path, test_note: str) -> StudyResult:
    summary = aggregate_study(study, root, task)
    summary.update(task=study.task.name, data=study.data.train, model=study.model.name,
                   sizes=[str(s) for s in study.sizes], seeds=study.seeds, test_note=test_note,
                   methods=[v.id for v in study.variants()], size_unit=_size_unit(task))
    write_json_atomic(root / "results.json", summary)
    report = write_study_report(root, summary, task)
    return StudyResult(root, summary, report)


def _build_task(study: StudyConfig) -> Task:
    entry = TASKS.get(study.task.name)
    return entry(entry.Params.model_validate(study.task.params))


def _size_unit(task: Task) -> str:
    return "examples per class" if task.stratify else "examples"


def _saved_note(root: Path) -> str:
    path = root / "results.json"
    return json.loads(path.read_text(encoding="utf-8")).get("test_note", "the test split") if path.is_file() \
        else "the test split"


def _open_folder(root: Path, text: str, *, resume: bool, overwrite: bool) -> None:
    """Create, resume or replace the study folder; never overwrite another study by accident."""
    if resume and overwrite:
        raise RunDirError("--resume and --overwrite contradict each other.", hint="Choose one.")
    saved = root / STUDY_FILE
    if saved.is_file() and not overwrite:
        if not resume:
            raise RunDirError(f"'{root}' already holds a study.",
                              hint="Add --resume to finish it (finished cells are kept), --overwrite to start "
                                   "again, or choose another output.")
        # validated again, so that a key a newer finegrain added counts with its default on both sides
        changed = sorted(key for key in changed_keys(yaml.safe_load(dump_study_config(load_study_config(saved))),
                                                     yaml.safe_load(text))
                         if key.split(".")[0] not in _WHERE_IT_RUNS)
        if changed:
            raise RunDirError(f"Cannot resume '{root}': it holds a different study (changed: {', '.join(changed)}).",
                              hint="Resume with the same study file, or use --overwrite or another output.")
        return
    if root.exists() and any(root.iterdir()) and not saved.is_file():
        raise RunDirError(f"'{root}' is not empty and holds no study.",
                          hint="Choose a new or empty output folder for the study.")
    if resume and not saved.is_file():
        raise RunDirError(f"Nothing to resume: '{root}' holds no study.", hint="Run again without --resume.")
    if overwrite:
        for name in _OWNED:
            target = root / name
            shutil.rmtree(target) if target.is_dir() else target.unlink(missing_ok=True)
    root.mkdir(parents=True, exist_ok=True)
    saved.write_text(text, encoding="utf-8")
