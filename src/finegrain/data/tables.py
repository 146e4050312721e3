"""Read a user's table (csv, tsv, jsonl, json, parquet, CoNLL, saved HF dataset) into a DataFrame.

Every problem with the file becomes one :class:`DataError` that names the file, the line, row
or column, what was expected and how to fix it: a pandas traceback teaches nothing. Each frame
gets a ``row`` column (the 1-based data row: header excluded for csv, the line for jsonl) so
later errors and reports can point back into the file. CoNLL files (``.conll``, ``.iob``,
``.bio``, ``.bioes``) give one row per sentence: ``tokens``, ``tags`` and ``row`` (the line
where the sentence starts); M2 files (``.m2``, grammatical error correction) one per sentence: ``source``,
``target`` and ``row``.
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from finegrain.data.conll import read_conll
from finegrain.data.delimited import read_delimited
from finegrain.data.m2 import read_m2
from finegrain.errors import DataError
from finegrain.registry import suggest
from finegrain.text_encoding import decode_text

__all__ = ["ROW", "SUPPORTED_EXTENSIONS", "ColumnOptions", "read_table", "require_columns"]

ROW = "row"
SUPPORTED_EXTENSIONS: dict[str, str] = {
    ".csv": "csv",
    ".tsv": "tsv",
    ".tab": "tsv",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".json": "json",
    ".parquet": "parquet",
    ".conll": "conll",
    ".iob": "conll",
    ".bio": "conll",
    ".bioes": "conll",
    ".m2": "m2",
}
_EXAMPLE_RECORD = '{"text": "...", "label": "pos"}'
_CONFIG_KEYS = {"tokens": "text", "tags": "label"}  # token data: data.text / data.label choose these
_JSON_TYPES = {dict: "object", list: "array", str: "string", int: "number", float: "number",
               bool: "boolean", type(None): "null"}


@dataclass(frozen=True)
class ColumnOptions:
    """The settings that choose the columns to read, as errors and warnings name them: the run
    config's by default; ``finegrain eval`` has its own flags."""

    text: str = "data.text"
    label: str = "data.label"
    tag_column: str = "data.tag_column"  # CoNLL files: the tag's column index

    def of(self, canonical: str) -> str:
        """The setting for a canonical column (token data: tokens is chosen by text, tags by label); a
        task's own column keys (pairs: text_pair) are the run config's ``data.<key>``."""
        key = _CONFIG_KEYS.get(canonical, canonical)
        return {"text": self.text, "label": self.label}.get(key, f"data.{key}")


def read_table(path: str | Path, *, tag_column: int | None = None,
               options: ColumnOptions = ColumnOptions()) -> pd.DataFrame:
    """Read one table; the format comes from the extension, or a folder from ``save_to_disk``.

    Text columns stay strings ("NA" is text, not a missing value). A ``row`` column holds the
    1-based data row, so errors can say where in the file an example came from. ``tag_column``
    picks a CoNLL file's tag column (None: the last); ``options`` name the settings in messages.

    Example:
        >>> import tempfile, pathlib
        >>> path = pathlib.Path(tempfile.mkdtemp()) / "reviews.csv"
        >>> _ = path.write_text("text,label\\nNA,pos\\n", encoding="utf-8")
        >>> read_table(path).to_dict("records")
        [{'text': 'NA', 'label': 'pos', 'row': 1}]
    """
    path = Path(path)
    if not path.exists():
        raise _missing_file_error(path)
    if path.is_dir():
        frame = _read_saved_dataset(path)
    else:
        frame = _read_file(path, _format_of(path), tag_column, options)
    if len(frame) == 0:
        columns = ", ".join(str(c) for c in frame.columns if c != ROW) or "none"
        raise DataError(f"has no data rows (columns: {columns}).", where=str(path),
                        hint="add examples below the header, or point at the file that holds them.")
    return frame


def require_columns(frame: pd.DataFrame, wanted: dict[str, str], source: str,
                    options: ColumnOptions = ColumnOptions()) -> pd.DataFrame:
    """Select the user's columns under canonical names, e.g. ``{"text": "review"}``, plus ``row``.

    Every missing column is reported at once, with the columns found, the closest match and
    the setting (``data.text=...``, or what ``options`` name) that chooses it.
    """
    found = [str(c) for c in frame.columns if c != ROW]
    missing = {canonical: column for canonical, column in wanted.items() if column not in found}
    if missing:
        raise _missing_columns_error(missing, found, source, options)
    rows = frame[ROW].to_numpy() if ROW in frame else range(1, len(frame) + 1)
    for canonical, column in wanted.items():
        _check_no_missing_values(frame[column], rows, options.of(canonical), source)
    selected = pd.DataFrame({canonical: frame[column].to_numpy() for canonical, column in wanted.items()})
    selected[ROW] = list(rows)
    return selected


def _missing_columns_error(missing: dict[str, str], found: list[str], source: str,
                           options: ColumnOptions) -> DataError:
    """Every missing column at once; token data (tokens/tags) in a text/label file is named as such."""
    problems = " ".join(
        f"Column '{column}' (set by {options.of(canonical)}={column}) was not found.{suggest(column, found)}"
        for canonical, column in missing.items()
    )
    keys = " and ".join(f"{options.of(canonical)}=<column>" for canonical in missing)
    hint = f"set {keys} to one of the found columns, or rename the column in the file."
    if set(missing) & set(_CONFIG_KEYS) and {"text", "label"} <= set(found):
        problems = ("This looks like text-classification data (columns text, label), but token"
                    " classification (NER) needs one list of words and one tag per word. " + problems)
        hint = ("give a CoNLL file (.conll: one 'token<TAB>tag' per line, blank lines between sentences) or"
                ' jsonl lines like {"tokens": ["EU", "rejects"], "tags": ["B-ORG", "O"]}; ' + hint)
    return DataError(f"{problems} Found columns: {', '.join(found) or 'none'}.", where=source, hint=hint)


def _check_no_missing_values(values: pd.Series, rows: Iterable[Any], option: str, source: str) -> None:
    """Nulls (a jsonl key left out, a parquet null) cannot be trained on; name the first row."""
    empty = values.isna().to_numpy()
    if empty.any():
        first = list(rows)[int(empty.argmax())]
        raise DataError(
            f"column '{values.name}' ({option}) has no value at row {first}"
            f" ({int(empty.sum())} rows without a value in all).",
            where=source, hint="fill in those values or remove the rows.")


def _format_of(path: Path) -> str:
    fmt = SUPPORTED_EXTENSIONS.get(path.suffix.lower())
    if fmt is None:
        supported = ", ".join(SUPPORTED_EXTENSIONS)
        raise DataError(
            f"unknown file extension '{path.suffix or '(none)'}'. Supported: {supported},"
            " or a folder written by datasets' save_to_disk.",
            where=str(path),
            hint="rename the file to the extension that matches its contents"
                 " (e.g. comma-separated values -> .csv, one JSON object per line -> .jsonl).")
    return fmt


def _missing_file_error(path: Path) -> DataError:
    folder = path.parent
    if not folder.is_dir():
        message = f"file not found, and its folder '{folder}' does not exist either."
    else:
        names = sorted(p.name for p in folder.iterdir())
        close = difflib.get_close_matches(path.name, names, n=3, cutoff=0.6)
        similar = f" Similar files in '{folder}': {', '.join(close)}." if close else ""
        message = f"file not found.{similar}"
    return DataError(message, where=str(path),
                     hint=f"check the path; relative paths start from the current folder, {Path.cwd()}.")


def _read_file(path: Path, fmt: str, tag_column: int | None, options: ColumnOptions) -> pd.DataFrame:
    if path.stat().st_size == 0:
        raise DataError("is empty (0 bytes).", where=str(path),
                        hint="write the examples into it, or point at the file that holds them.")
    if fmt == "parquet":
        return _read_parquet(path)
    if fmt == "conll":
        return read_conll(path, tag_column=tag_column, option=options.tag_column)
    if fmt == "m2":
        return read_m2(path)
    text = decode_text(path.read_bytes(), str(path))
    if fmt == "jsonl":
        return _read_jsonl(text, path)
    if fmt == "json":
        return _read_json(text, path)
    return _read_delimited(text, path, fmt)


def _read_delimited(text: str, path: Path, fmt: str) -> pd.DataFrame:
    header, rows = read_delimited(text, str(path), fmt)
    return _with_rows(pd.DataFrame(rows, columns=header, dtype=object), range(1, len(rows) + 1), path)


def _read_jsonl(text: str, path: Path) -> pd.DataFrame:
    records, lines = [], []
    # split on "\n" only: str.splitlines would also split on U+2028 inside JSON strings
    for number, line in enumerate(text.split("\n"), start=1):
        if not line.strip():
            continue
        try:
            value = json.loads(line)
        except json.JSONDecodeError as err:
            raise DataError(
                f"line {number} is not valid JSON ({err.msg} at column {err.colno}).", where=str(path),
                hint='each line must be one complete JSON object, e.g. {"text": "...", "label": "pos"};'
                     " a pretty-printed list belongs in a .json file.") from None
        if not isinstance(value, dict):
            raise DataError(f"line {number} holds a JSON {_json_type(value)}, but each line must be an object.",
                            where=str(path), hint=f"write one object per line, e.g. {_EXAMPLE_RECORD}.")
        records.append(value)
        lines.append(number)
    if not records:
        raise DataError("holds only blank lines.", where=str(path), hint="write one JSON object per line.")
    return _with_rows(pd.DataFrame.from_records(records), lines, path)


def _read_json(text: str, path: Path) -> pd.DataFrame:
    """A list of records; a file of one object per line (jsonl saved as .json) is accepted too."""
    try:
        value = json.loads(text)
    except json.JSONDecodeError as err:
        if err.msg == "Extra data":
            return _read_jsonl(text, path)
        raise DataError(f"line {err.lineno}, column {err.colno} is not valid JSON ({err.msg}).", where=str(path),
                        hint="fix the JSON syntax there (a missing comma, quote or bracket).") from None
    if not isinstance(value, list):
        raise DataError(f"holds a JSON {_json_type(value)}, but a list of records was expected,"
                        ' e.g. [{"text": "...", "label": "pos"}].', where=str(path),
                        hint="write a list of objects (pandas: df.to_json(path, orient='records')),"
                             " or one object per line in a .jsonl file.")
    for number, item in enumerate(value, start=1):
        if not isinstance(item, dict):
            raise DataError(f"record {number} of the list is a JSON {_json_type(item)}, not an object.",
                            where=str(path), hint=f"make every item an object, e.g. {_EXAMPLE_RECORD}.")
    return _with_rows(pd.DataFrame.from_records(value), range(1, len(value) + 1), path)


def _json_type(value: object) -> str:
    return _JSON_TYPES.get(type(value), type(value).__name__)


def _read_parquet(path: Path) -> pd.DataFrame:
    try:
        frame = pd.read_parquet(path)
    except Exception as err:  # pyarrow raises several unrelated types for one cause: a bad file
        raise DataError(f"cannot be read as Parquet ({type(err).__name__}: {err}).", where=str(path),
                        hint="check that it was written completely (e.g. by DataFrame.to_parquet); if it"
                             " holds another format, give it that extension (.csv, .jsonl, ...).") from None
    frame = frame.reset_index(drop=isinstance(frame.index, pd.RangeIndex))
    return _with_rows(frame, range(1, len(frame) + 1), path)


def _read_saved_dataset(path: Path) -> pd.DataFrame:
    """A folder from ``Dataset.save_to_disk``; ClassLabel columns come back as label names."""
    if (path / "dataset_dict.json").exists():
        splits = json.loads((path / "dataset_dict.json").read_text(encoding="utf-8")).get("splits", [])
        example = path / (splits[0] if splits else "train")
        raise DataError(f"is a DatasetDict with splits {', '.join(splits)}, but one table was expected.",
                        where=str(path), hint=f"point at one split, e.g. {example}.")
    if not (path / "state.json").exists():
        raise DataError("is a folder, but not one written by datasets' save_to_disk (no state.json inside).",
                        where=str(path), hint=f"give a file ({', '.join(SUPPORTED_EXTENSIONS)}) or such a folder.")
    from datasets import ClassLabel, load_from_disk  # heavy: only when a saved dataset is given

    try:
        dataset = load_from_disk(str(path))
    except Exception as err:  # a damaged folder can fail in arrow, fsspec or json
        raise DataError(f"cannot be loaded with datasets.load_from_disk ({type(err).__name__}: {err}).",
                        where=str(path), hint="save it again with Dataset.save_to_disk.") from None
    frame = dataset.to_pandas()
    for name, feature in dataset.features.items():
        if isinstance(feature, ClassLabel):
            frame[name] = [feature.names[v] if v >= 0 else None for v in frame[name]]
    return _with_rows(frame, range(1, len(frame) + 1), path)


def _with_rows(frame: pd.DataFrame, rows: Iterable[int], path: Path) -> pd.DataFrame:
    if ROW in frame.columns:
        raise DataError(f"has a column named '{ROW}', a name finegrain keeps for the row number it adds.",
                        where=str(path), hint=f"rename that column (e.g. to '{ROW}_id').")
    frame[ROW] = list(rows)
    return frame
