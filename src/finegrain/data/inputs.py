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
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from finegrain.errors import DataError
from finegrain.text_encoding import decode_text

__all__ = ["InputSource", "InputFormat", "InputField", "choose_format", "read_lines", "read_lines_or_jsonl",
           "read_jsonl", "read_table_column", "text_value", "kind_of"]


@dataclass(frozen=True)
class InputSource:
    """A file, or stdin, to predict from."""

    where: str  # the path, or "<stdin>", as messages name it
    raw: bytes | None = None  # stdin's content (a file is read when a reader asks for it)
    path: Path | None = None
    text_column: str = "text"  # the run's data.text: the column or field that holds the inputs

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
                            where=source.where, hint=f"write one object per line, e.g. {field.example}.") from None
        inputs.append(_json_input(record, number, source, field))
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
    from finegrain.data.tables import ROW, read_table

    frame = read_table(source.path)
    found = [str(c) for c in frame.columns if c != ROW]
    names = _names(field, source)
    column = next((name for name in names if name in found), None)
    if column is None:
        raise DataError(f"has no column {_either(names)} (the run's text column is '{source.text_column}')."
                        f" Found columns: {', '.join(found)}.", where=source.where,
                        hint=f"rename the column that holds the {field.noun}s to '{names[0]}'.")
    inputs = []
    for row, raw in zip(frame[ROW], frame[column]):
        value = field.value(raw)
        if value is None:
            raise DataError(f"row {row}: column '{column}' is {_describe(raw)}, but each row needs a {field.noun}.",
                            where=source.where, hint=f"fill in the {field.noun} or remove the row.")
        inputs.append(value)
    return inputs


def _names(field: InputField, source: InputSource) -> tuple[str, ...]:
    """The run's own text column first (a run trained on 'review' reads 'review'), then the field's names."""
    return tuple(dict.fromkeys((source.text_column, *field.names)))


def _either(names: Sequence[str]) -> str:
    return " or ".join(f"'{name}'" for name in names)


def _describe(value: Any) -> str:
    """'empty' for a blank or missing value, else the value itself (shortened)."""
    missing = value is None or (isinstance(value, float) and value != value) or (isinstance(value, str)
                                                                                 and not value.strip())
    return "empty" if missing else f"{value!r:.60}"
