"""Turn the data section of a run config into train / validation / test splits.

Each source is a file path or a built-in dataset name, optionally with a split
(``bbc-news:test``). Built-in names win over a same-named file or folder in the current
directory; write ``./bbc-news`` to mean the folder.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from pathlib import Path

import pandas as pd

from finegrain.data.sampling import stratified_split, stratified_subsample
from finegrain.data.split import Split
from finegrain.data.tables import ROW, SUPPORTED_EXTENSIONS, ColumnOptions, read_table, require_columns
from finegrain.errors import DataError
from finegrain.registry import DATASETS, suggest

LOGGER = logging.getLogger("finegrain")

__all__ = ["load_splits", "load_source"]

_BUILTIN_SPLITS = ("train", "validation", "test")


def load_splits(train: str, validation: str | None, test: str | None, *, columns: dict[str, str],
                stratify: str | None, validation_fraction: float, max_train_examples: int | None,
                seed: int, tag_column: int | None = None, foreign: Mapping[str, str] | None = None,
                read_test: bool = True) -> dict[str, Split]:
    """Load ``train`` and ``validation`` (and ``test`` when given) as :class:`Split` objects.

    A built-in ``train`` brings its own validation and test splits where those are None; a file
    ``train`` without ``validation`` gives up a stratified ``validation_fraction`` of its rows.
    ``max_train_examples`` then subsamples train, keeping class proportions. ``columns`` maps
    canonical names to the file's columns (built-ins already use the canonical ones);
    ``tag_column`` picks the tag column of CoNLL files (None: the last); ``foreign`` names the columns
    that mark data for another task (column -> that task), refused as :func:`load_source` says.
    ``read_test`` False: no test split is read, not even a built-in's (``finegrain tune``'s trials never see it).

    Example:
        >>> splits = load_splits("bbc-news", None, None, columns={"text": "text", "label": "label"},
        ...                      stratify="label", validation_fraction=0.1, max_train_examples=100, seed=0)
        >>> {name: len(split) for name, split in splits.items()}
        {'train': 100, 'validation': 213, 'test': 212}
    """
    train_split = load_source(train, "train", columns, tag_column=tag_column, foreign=foreign)
    if _is_builtin_train(train):
        dataset = DATASETS.canonical(train.partition(":")[0])
        built = DATASETS.get(dataset).load()  # a built-in may lack a split (zh-spelling-synth has no test)
        validation = validation if validation is not None or "validation" not in built else f"{dataset}:validation"
        test = test if test is not None or "test" not in built else f"{dataset}:test"
    column = _stratify_column(stratify, columns, train_split)
    if validation is None:
        try:
            rest, held = stratified_split(train_split.frame, column, validation_fraction, seed)
        except DataError as err:  # name the file the too-small train set came from
            raise DataError(err.message, where=train_split.source, hint=err.hint) from None
        validation_split = Split("validation", held.reset_index(drop=True), train_split.source)
        train_split = Split("train", rest.reset_index(drop=True), train_split.source)
    else:
        validation_split = load_source(validation, "validation", columns, tag_column=tag_column, foreign=foreign)
    if max_train_examples is not None:
        frame = stratified_subsample(train_split.frame, column, max_train_examples, seed)
        train_split = Split("train", frame.reset_index(drop=True), train_split.source)
    splits = {"train": train_split, "validation": validation_split}
    if test is not None and read_test:
        splits["test"] = load_source(test, "test", columns, tag_column=tag_column, foreign=foreign)
    return splits


def load_source(spec: str, role: str, columns: dict[str, str], *, tag_column: int | None = None,
                options: ColumnOptions = ColumnOptions(), foreign: Mapping[str, str] | None = None) -> Split:
    """One split from a file or a built-in; a bare built-in name means its split named ``role``.

    ``tag_column`` picks a CoNLL file's tag column; ``options`` name the settings that choose
    columns in messages (the run config's by default). ``foreign``: columns that mark data for
    another task (a second text: pair classification), column -> that task; data holding one that
    ``columns`` does not read is refused, since the task would silently ignore half of each example.

    Example:
        >>> len(load_source("bbc-news", "test", {"text": "text", "label": "label"}))
        212
    """
    kind = _resolve(spec, role)
    if isinstance(kind, Path):
        frame = _headerless_pairs(read_table(kind, tag_column=tag_column, options=options), columns, kind)
        _refuse_foreign(frame, columns, foreign or {}, spec)
        return Split(role, require_columns(frame, columns, spec, options), spec)
    dataset, split = kind
    split = split or role
    splits = DATASETS.get(dataset).load()
    if split not in splits or (role != "test" and list(splits) == ["test"]):  # a test set, even named NAME:test
        raise _missing_split(dataset, split, sorted(splits), role)
    frame = splits[split]
    _refuse_foreign(frame, columns, foreign or {}, f"{dataset}:{split}")
    return Split(role, frame, f"{dataset}:{split}")


_PAIR_COLUMNS = {"source": "source", "target": "target"}  # correction pairs, as the spelling and grammar tasks read


def _headerless_pairs(frame: pd.DataFrame, columns: dict[str, str], path: Path) -> pd.DataFrame:
    """A ``.tsv`` of correction pairs without a header (``source<TAB>target`` from the first line, as pycorrector and
    SIGHAN ship them): its first line was taken for column names, so it becomes the first pair again.

    Example:
        >>> frame = pd.DataFrame({"我门好": ["他去学效"], "我们好": ["他去学校"], ROW: [1]})
        >>> _headerless_pairs(frame, dict(_PAIR_COLUMNS), Path("pairs.tsv")).to_dict("list")
        {'source': ['我门好', '他去学效'], 'target': ['我们好', '他去学校'], 'row': [1, 2]}
    """
    found = [str(c) for c in frame.columns if c != ROW]
    if path.suffix.lower() != ".tsv" or columns != _PAIR_COLUMNS or len(found) != 2 or set(found) & set(columns):
        return frame
    LOGGER.info("finegrain: %s has no source/target header: read as source<TAB>target pairs from its first line.", path)
    first = pd.DataFrame({"source": [found[0]], "target": [found[1]], ROW: [1]})
    rest = pd.DataFrame({"source": frame[found[0]].to_numpy(), "target": frame[found[1]].to_numpy(),
                         ROW: [row + 1 for row in frame[ROW]]})
    return pd.concat([first, rest], ignore_index=True)


def _missing_split(dataset: str, split: str, held: list[str], role: str) -> DataError:
    """A built-in without the split asked for; a test-only set named as training data is said to be one."""
    if held == ["test"]:
        return DataError(f"built-in dataset '{dataset}' is a test set (its only split is 'test'): nothing may train"
                         f" or validate on it, or its scores would no longer measure anything.", where=f"data.{role}",
                         hint=f"train on another dataset and set data.test: {dataset}.")
    return DataError(f"built-in dataset '{dataset}' has no '{split}' split; it has {', '.join(held)}.",
                     where=f"data.{role}", hint=f"use one of {', '.join(f'{dataset}:{s}' for s in held)}, or a file.")


def _refuse_foreign(frame: pd.DataFrame, columns: dict[str, str], foreign: Mapping[str, str], where: str) -> None:
    """A column that another task reads (and this one does not) means the data is for that task."""
    found = [str(c) for c in frame.columns if c != ROW]
    unread = [column for column in found if column in foreign and column not in columns.values()]
    if unread:
        column, task = unread[0], foreign[unread[0]]
        read = ", ".join(f"'{c}'" for c in columns.values())
        raise DataError(f"has a column '{column}', which marks data for the '{task}' task; this run's task reads"
                        f" only {read} and would ignore it. Found columns: {', '.join(found)}.", where=where,
                        hint=f"set task: {task} to use it (task={task} on the command line), or remove the column"
                             f" '{column}' to train on {read} alone.")


def _resolve(spec: str, role: str) -> Path | tuple[str, str | None]:
    """A built-in (name, split or None) or an existing path; anything else is a teaching error."""
    name, colon, split = spec.partition(":")
    if spec in DATASETS:
        return DATASETS.canonical(spec), None
    if colon and name in DATASETS:
        if split not in _BUILTIN_SPLITS:
            close = suggest(split, list(_BUILTIN_SPLITS))
            raise DataError(f"built-in dataset '{name}' has no split '{split}'.{close}"
                            f" Splits: {', '.join(_BUILTIN_SPLITS)}.", where=f"data.{role}",
                            hint=f"write {name}:train, {name}:validation or {name}:test.")
        return DATASETS.canonical(name), split
    path = Path(spec)
    if path.exists() or _looks_like_path(spec):
        return path  # read_table explains a missing file, with similar names in its folder
    names = DATASETS.names()
    raise DataError(
        f"'{spec}' is neither an existing file nor a built-in dataset.{suggest(name, names)}"
        f" Built-in datasets: {', '.join(names)}.",
        where=f"data.{role}",
        hint=f"give the path of an existing file (relative paths start from {Path.cwd()}), or a built-in"
             " name, optionally with a split: NAME:train, NAME:validation or NAME:test.")


def _looks_like_path(spec: str) -> bool:
    return "/" in spec or os.sep in spec or Path(spec).suffix.lower() in SUPPORTED_EXTENSIONS


def _is_builtin_train(spec: str) -> bool:
    name, colon, split = spec.partition(":")
    return spec in DATASETS or (bool(colon) and name in DATASETS and split == "train")


def _stratify_column(stratify: str | None, columns: dict[str, str], split: Split) -> str | None:
    """The canonical column to stratify by; the user's own column name is accepted too."""
    if stratify is None or stratify in split.frame.columns:
        return stratify
    for canonical, column in columns.items():
        if column == stratify and canonical in split.frame.columns:
            return canonical
    kept = [str(c) for c in split.frame.columns if c != ROW]
    raise DataError(f"cannot stratify by '{stratify}': the columns kept are {', '.join(kept)}.",
                    where=split.source,
                    hint=f"stratify by one of {', '.join(kept)}, or by none for a plain random split.")
