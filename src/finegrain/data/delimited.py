"""CSV and TSV text into a header and rows, with errors that name the line and the fix.

Python's csv module rather than pandas: it reports each record's lines, so a row with too few
or too many fields, or a double quote that is never closed, is named where it starts. Its limit
on the length of one field (131,072 characters) is lifted while reading, since a valid file can
hold a longer text and no field can be longer than the file. A ``.csv`` whose header line has
tabs but no comma is read as tab-separated (and a ``.tsv`` with commas only as comma-separated),
with a warning: the header alone decides, since texts below it may hold either character.

Example:
    >>> read_delimited("text,label\\ngood,pos\\n", "data.csv", "csv")
    (['text', 'label'], [['good', 'pos']])
"""

from __future__ import annotations

import csv
import io
import logging
from collections.abc import Iterator
from contextlib import contextmanager

from finegrain.errors import DataError

__all__ = ["read_delimited"]

LOGGER = logging.getLogger("finegrain")
_DELIMITERS = {"csv": ",", "tsv": "\t"}
_NAMES = {",": "comma", "\t": "tab"}
_C_LONG_MAX = 2**31 - 1  # csv.field_size_limit takes a C long, 32 bits on Windows
_QUOTE_HINT = ('a field that starts with a double quote must end with one; write a quote inside a quoted field'
               ' twice ("").')


def read_delimited(text: str, source: str, fmt: str) -> tuple[list[str], list[list[str]]]:
    """The header and the data rows of csv (``fmt="csv"``) or tsv text; blank lines are skipped."""
    delimiter = _delimiter(text, source, fmt)
    with _field_limit(len(text)):
        header, rows, last_start = _parse(text, source, delimiter)
        _check_closed_quotes(text, source, delimiter, last_start)
    return header, rows


def _delimiter(text: str, source: str, fmt: str) -> str:
    """The extension's delimiter, unless the header line has none of it but the other one."""
    expected = _DELIMITERS[fmt]
    other = next(d for d in _DELIMITERS.values() if d != expected)
    header = next((line for line in text.split("\n") if line.strip()), "")
    if expected in header or other not in header:
        return expected
    kind = "tab-separated (TSV)" if other == "\t" else "comma-separated (CSV)"
    LOGGER.warning("finegrain: %s looks %s: its header line has %ss and no %s, so it is read that way;"
                   " rename it to %s to say so.", source, kind, _NAMES[other], _NAMES[expected],
                   ".tsv" if other == "\t" else ".csv")
    return other


@contextmanager
def _field_limit(size: int) -> Iterator[None]:
    """Fields as long as the whole text, then the process-wide limit as it was."""
    previous = csv.field_size_limit()
    csv.field_size_limit(max(previous, min(size + 1, _C_LONG_MAX)))
    try:
        yield
    finally:
        csv.field_size_limit(previous)


def _parse(text: str, source: str, delimiter: str) -> tuple[list[str], list[list[str]], int]:
    """Header, rows, and the line where the last record starts."""
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    header: list[str] | None = None
    header_line = last_line = start = 0
    rows: list[list[str]] = []
    try:
        for record in reader:
            start, last_line = last_line + 1, reader.line_num
            if not record:  # a blank line
                continue
            if header is None:
                header, header_line = record, start
                _check_header(header, source, header_line)
            elif len(record) != len(header):
                raise _ragged_error(source, delimiter, header, header_line, record, start, last_line)
            else:
                rows.append(record)
    except csv.Error as err:
        raise DataError(f"line {reader.line_num} cannot be parsed as {_format(delimiter)} ({err}).",
                        where=source, hint=_QUOTE_HINT) from None
    if header is None:
        raise DataError("holds only blank lines.", where=source, hint="write a header line and examples.")
    return header, rows, start


def _check_closed_quotes(text: str, source: str, delimiter: str, last_start: int) -> None:
    """A double quote never closed makes the rest of the file one value: silently, when the last
    record's field count still fits. Strict parsing of that record alone tells."""
    lines = io.StringIO(text, newline="").readlines()
    tail = io.StringIO("".join(lines[last_start - 1:]), newline="")
    try:
        for _ in csv.reader(tail, delimiter=delimiter, strict=True):
            pass
    except csv.Error as err:
        if "unexpected end of data" not in str(err):
            return  # strict-only complaints (e.g. text after a closing quote) are accepted as before
        raise DataError(f"line {last_start}: a double quote opened in this row is never closed, so lines"
                        f" {last_start}-{len(lines)} (the rest of the file) would be read as one value.",
                        where=source, hint=_QUOTE_HINT) from None


def _format(delimiter: str) -> str:
    return "CSV" if delimiter == "," else "TSV"


def _check_header(header: list[str], source: str, line: int) -> None:
    seen: set[str] = set()
    for name in header:
        if name in seen:
            raise DataError(f"column '{name}' appears twice in the header (line {line}).", where=source,
                            hint="give every column a distinct name.")
        seen.add(name)


def _ragged_error(source: str, delimiter: str, header: list[str], header_line: int, record: list[str],
                  start: int, end: int) -> DataError:
    span = f" (the row runs on to line {end}: an unclosed double quote joins lines)" if end > start else ""
    if len(record) > len(header):
        hint = (f"a value that contains a {_NAMES[delimiter]} must be wrapped in double quotes;"
                " or remove the extra field.")
    else:
        hint = "add the missing fields (an empty value is allowed: two delimiters in a row) or fix the row."
    return DataError(
        f"line {start} has {len(record)} fields but the header (line {header_line}) has"
        f" {len(header)} ({', '.join(header)}){span}.",
        where=source, hint=hint)
