"""The data of a study: one checked read of the splits, nested samples, files for the cells.

Every cell trains from plain files that the study writes (``data/seed-S/train-SIZE.jsonl``),
so a cell is an ordinary run directory that ``finegrain eval`` and ``finegrain.load`` open.
All cells share one test set, read once. Sizes are checked for every seed before any cell runs,
so a size larger than a class fails at once, not after an hour of training.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from finegrain.data.sampling import stratified_split, stratified_subsample
from finegrain.data.sources import load_splits
from finegrain.data.split import Split
from finegrain.data.tables import ROW
from finegrain.study.config import Size, StudyConfig, size_label
from finegrain.study.sampling import nested_positions
from finegrain.tasks.base import Task
from finegrain.training.setup import foreign_columns, task_columns

__all__ = ["StudyData", "prepare_study_data"]

_TEST_SEED = 0  # the test sample (when capped or carved from train) is the same for every study run


@dataclass
class StudyData:
    """The raw splits (canonical columns), the checked test split and the samples per seed and size."""

    root: Path
    task: Task
    train: pd.DataFrame
    validation: pd.DataFrame
    test: Split  # checked by the task: what every cell is scored on
    test_note: str
    # canonical column -> the data section's: the cells' files use the names their config reads
    columns: dict[str, str] = field(default_factory=dict)
    positions: dict[tuple[int, str], tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)

    def files(self, seed: int, size: Size) -> tuple[str, str]:
        """The (train, validation) jsonl files of a cell, written on first use."""
        folder = self.root / "data" / f"seed-{seed}"
        label = size_label(size)
        train_file, validation_file = folder / f"train-{label}.jsonl", folder / f"validation-{label}.jsonl"
        if not (train_file.is_file() and validation_file.is_file()):
            train_positions, validation_positions = self.positions[(seed, label)]
            _write_jsonl(self.train.iloc[train_positions].rename(columns=self.columns), train_file)
            _write_jsonl(self.validation.iloc[validation_positions].rename(columns=self.columns), validation_file)
        return str(train_file), str(validation_file)

    def train_examples(self, seed: int, size: Size) -> int:
        return len(self.positions[(seed, size_label(size))][0])


def prepare_study_data(study: StudyConfig, task: Task, root: Path) -> StudyData:
    """Read and check the splits once, draw every sample, and fail early on impossible sizes."""
    data, columns = study.data, task_columns(task, study.data)
    splits = load_splits(data.train, data.validation, data.test, columns=columns,
                         stratify=task.stratify, validation_fraction=data.validation_fraction,
                         max_train_examples=None, seed=_TEST_SEED, tag_column=data.tag_column,
                         foreign=foreign_columns(task))
    train, note = splits["train"], "the test split"
    if "test" not in splits:  # a study needs held-out examples that no cell trains or selects on
        rest, held = stratified_split(train.frame, task.stratify, data.validation_fraction, _TEST_SEED)
        train = Split("train", rest.reset_index(drop=True), train.source)
        splits["test"] = Split("test", held.reset_index(drop=True), f"{train.source} (held out)")
        note = f"{len(held)} examples held out of the training file (no test file was given)"
    test = splits["test"]
    if study.test_examples and study.test_examples < len(test):
        sample = stratified_subsample(test.frame, task.stratify, study.test_examples, _TEST_SEED)
        test = Split("test", sample.reset_index(drop=True), test.source)
        note = f"a fixed stratified sample of {len(test)} examples of {note}"
    checked_train = task.check(train)  # bad data fails here once, not in every cell
    task.check(splits["validation"])
    checked_test = task.check(test)
    task.check_labels(checked_test, task.label_map(checked_train))
    result = StudyData(root, task, _raw(train), _raw(splits["validation"]), checked_test, note, columns)
    for seed in study.seeds:
        for size in study.sizes:
            result.positions[(seed, size_label(size))] = (
                nested_positions(result.train, task.stratify, size, seed, oversize=study.oversize),
                nested_positions(result.validation, task.stratify, size, seed, oversize="all", stream=1,
                                 where="data.validation"))
    return result


def _raw(split: Split) -> pd.DataFrame:
    return split.frame.drop(columns=[ROW], errors="ignore").reset_index(drop=True)


def _write_jsonl(frame: pd.DataFrame, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    staging = path.with_suffix(".partial")
    frame.to_json(staging, orient="records", lines=True, force_ascii=False)
    staging.replace(path)
