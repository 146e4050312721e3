"""Prediction inputs read from a file or stdin (``finegrain predict --input``): the pieces a task builds
its declared input formats from.

A task lists its :class:`InputFormat` s (the file suffixes each reads, and a reader); the CLI takes
the one that claims the file's suffix, else the task's fallback (no suffixes) for stdin and any
other file. Readers return the inputs in file order, as the task's ``predict`` takes them, and
every problem names the line or row and the fix.

Example:
    >>> source = InputSource("<stdin>", raw=b"great film\\nawful day\\n")
    >>> read_lines_or_jsonl(source, InputField(("text",), text_value, "text", '{"text": "..."}'))
    ['great film', 'awful day']
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from finegrain.errors import DataError
from finegrain.text_encoding import decode_text

__all__ = ["InputSource", "InputFormat", "InputField", "text_formats", "text_frame", "choose_format", "read_lines",
           "read_lines_or_jsonl", "read_jsonl", "read_jsonl_fields", "read_table_column", "read_table_fields",
           "text_value", "kind_of"]


@dataclass(frozen=True)
class InputSource:
    """A file, or stdin, to predict from."""

    where: str  # the path, or "<stdin>", as messages name it
    raw: bytes | None = None  # stdin's content (a file is read when a reader asks for it)
    path: Path | None = None
    # The run's column keys -> its columns (data.text, and a task's own keys such as data.text_pair): a run
    # trained on a 'review' column reads 'review' first.
    columns: Mapping[str, str] = field(default_factory=dict)

    def text(self) -> str:
        return decode_text(self.raw if self.raw is not None else self.path.read_bytes(), self.where)


@dataclass(frozen=True)
class InputFormat:
    """One kind of file a task predicts from."""

    name: str  # as help and messages say it: "CoNLL", "csv/tsv/json/parquet"
    suffixes: tuple[str, ...]  # lower-case file suffixes it reads; () marks the fallback (stdin, other files)
    read: Callable[[InputSource], list[Any]]


@dataclass(frozen=True)
class InputField:
    """Where an input sits in a JSON line or a table row, and what a valid one is."""

    names: tuple[str, ...]  # the field (column) names it may have; the first one present is read
    value: Callable[[Any], Any]  # the input a found value gives, or None when it is not a valid one
    noun: str  # what one input is, in messages: "text", "text or token list"
    example: str  # one JSON line that holds an input
    key: str = "text"  # the data-section key whose column, in the run, holds it (read before ``names``)


def choose_format(formats: Sequence[InputFormat], source: InputSource) -> InputFormat:
    """The format claiming the file's suffix, else the fallback; an error lists what the task reads."""
    suffix = source.path.suffix.lower() if source.path is not None else None
    chosen = next((f for f in formats if suffix in f.suffixes), None) or next((f for f in formats if not f.suffixes),
                                                                            None)
    if chosen is None:
        readable = ", ".join(f"{f.name} ({' '.join(f.suffixes)})" for f in formats)
        raise DataError(f"cannot predict from a '{suffix or 'stdin'}' input: this run reads {readable}.",
                        where=source.where, hint="give a file in one of those formats.")
    return chosen


def kind_of(value: Any) -> str:
    """A value as an error names it: its type and (shortened) repr, e.g. "a dict ({'text': 'hi'})"."""
    shown, name = repr(value), type(value).__name__
    return f"{'an' if name[0] in 'aeiou' else 'a'} {name} ({shown if len(shown) <= 60 else shown[:57] + '...'})"


def text_value(value: Any) -> str | None:
    """A non-empty text, or None."""
    return value if isinstance(value, str) and value.strip() else None


def read_lines(source: InputSource, text: str | None = None) -> list[str]:
    """One text per line; an empty line is an error, so outputs line up 1:1 with input lines."""
    lines = (source.text() if text is None else text).split("\n")
    if lines and lines[-1] == "":
        lines.pop()  # the newline that ends the last line
    texts = [line.rstrip("\r") for line in lines]
    if not texts:
        raise DataError("is empty: there is nothing to predict.", where=source.where, hint="give one text per line.")
    for number, line in enumerate(texts, start=1):
        if not line.strip():
            raise DataError(f"line {number} is empty; each line is one text, and the output has one"
                            " prediction per line in the same order.", where=source.where,
                            hint="remove the empty line or put a text on it.")
    return texts


def read_lines_or_jsonl(source: InputSource, field: InputField) -> list[Any]:
    """JSON lines when the first non-blank character is ``{``, else one text per line."""
    text = source.text()
    return read_jsonl(source, field, text) if text.lstrip().startswith("{") else read_lines(source, text)


def read_jsonl(source: InputSource, field: InputField, text: str | None = None) -> list[Any]:
    """The input in each JSON line (the first of ``field.names`` it has); blank lines are errors."""
    return [values[0] for values in read_jsonl_fields(source, (field,), text)]


def read_jsonl_fields(source: InputSource, fields: Sequence[InputField], text: str | None = None) -> list[tuple]:
    """One tuple per JSON line: the value of each of ``fields`` (a pair: both texts); blank lines are errors."""
    inputs = []
    text = source.text() if text is None else text
    for number, line in enumerate(text.rstrip("\n").split("\n"), start=1):
        if not line.strip():
            raise DataError(f"line {number} is empty; each line must be one JSON object.", where=source.where,
                            hint="remove the empty line.")
        try:
            record = json.loads(line)
        except json.JSONDecodeError as error:
            raise DataError(f"line {number}, column {error.colno} is not valid JSON ({error.msg}).",
                            where=source.where, hint=f"write one object per line, e.g. {fields[0].example}.") from None
        inputs.append(tuple(_json_input(record, number, source, field) for field in fields))
    return inputs


def _json_input(record: object, number: int, source: InputSource, field: InputField) -> Any:
    keys = list(record) if isinstance(record, dict) else []
    names = _names(field, source)
    name = next((n for n in names if n in keys), None)
    if name is None:
        found = ", ".join(keys) if isinstance(record, dict) else f"a JSON {type(record).__name__}"
        raise DataError(f"line {number} has no {_either(names)} field (found: {found or 'no fields'}).",
                        where=source.where, hint=f"give each line a {field.noun}, e.g. {field.example}.")
    value = field.value(record[name])
    if value is None:
        raise DataError(f"line {number}: field '{name}' is {_describe(record[name])}, but a non-empty {field.noun}"
                        " was expected.", where=source.where, hint=f"put a {field.noun} there or remove the line.")
    return value


def read_table_column(source: InputSource, field: InputField) -> list[Any]:
    """csv/tsv/json/jsonl/parquet through the data layer's reader: the inputs of one column."""
    return [values[0] for values in read_table_fields(source, (field,))]


def read_table_fields(source: InputSource, fields: Sequence[InputField]) -> list[tuple]:
    """csv/tsv/json/jsonl/parquet through the data layer's reader: one tuple per row, the value of each of
    ``fields`` (a pair: both texts). Every missing column is named at once, with the columns found."""
    from finegrain.data.tables import ROW, read_table

    frame = read_table(source.path)
    found = [str(c) for c in frame.columns if c != ROW]
    chosen = [next((name for name in _names(field, source) if name in found), None) for field in fields]
    missing = [field for field, column in zip(fields, chosen) if column is None]
    if missing:
        wanted = " and ".join(f"no column {_either(_names(field, source))}{_run_column(field, source)}"
                              for field in missing)
        renames = ", ".join(f"the {field.noun}s to '{_names(field, source)[0]}'" for field in missing)
        raise DataError(f"has {wanted}. Found columns: {', '.join(found)}.", where=source.where,
                        hint=f"rename the column that holds {renames}.")
    return [tuple(_table_value(raw, row, column, field, source) for raw, column, field in zip(raws, chosen, fields))
            for row, *raws in zip(frame[ROW], *(frame[column] for column in chosen))]


def _table_value(raw: Any, row: int, column: str, field: InputField, source: InputSource) -> Any:
    value = field.value(raw)
    if value is None:
        raise DataError(f"row {row}: column '{column}' is {_describe(raw)}, but each row needs a {field.noun}.",
                        where=source.where, hint=f"fill in the {field.noun} or remove the row.")
    return value


def _run_column(field: InputField, source: InputSource) -> str:
    column = source.columns.get(field.key)
    return f" (the run's data.{field.key} is '{column}')" if column else ""


def _names(field: InputField, source: InputSource) -> tuple[str, ...]:
    """The run's own column first (a run trained on 'review' reads 'review'), then the field's names."""
    own = (source.columns[field.key],) if field.key in source.columns else ()
    return tuple(dict.fromkeys((*own, *field.names)))


def _either(names: Sequence[str]) -> str:
    return " or ".join(f"'{name}'" for name in names)


def _describe(value: Any) -> str:
    """'empty' for a blank or missing value, else the value itself (shortened)."""
    missing = value is None or (isinstance(value, float) and value != value) or (isinstance(value, str)
                                                                                 and not value.strip())
    return "empty" if missing else f"{value!r:.60}"


def text_formats(field: InputField, column: str) -> tuple[InputFormat, ...]:
    """The files a task that predicts from one text reads: a table with the ``field``'s column (named
    ``column`` in the message), or one text per line / JSON lines with a ``text`` field."""
    return (InputFormat(f"csv/tsv/json/jsonl/parquet with a {column} column",
                        (".csv", ".tsv", ".tab", ".json", ".jsonl", ".ndjson", ".parquet"),
                        lambda source: read_table_column(source, field)),
            InputFormat("text (one per line) or JSON lines with a 'text' field", (),
                        lambda source: read_lines_or_jsonl(source, field)))


def text_frame(inputs: Sequence[Any], column: str, task: str, example: str) -> Any:
    """The texts as a frame (``column``, ``row``: the input's 1-based position); anything that is not a string is
    a DataError naming the ``task`` and an ``example`` call, never turned into one with ``str()``."""
    import pandas as pd

    for index, value in enumerate(inputs):
        if not isinstance(value, str):
            raise DataError(f"inputs[{index}] is {kind_of(value)}, but {task} predicts from texts (str).",
                            where="predict", hint=f"give a list of strings, e.g. {example}; read a file's text"
                                                  " column first.")
    return pd.DataFrame({column: list(inputs), "row": range(1, len(inputs) + 1)})
