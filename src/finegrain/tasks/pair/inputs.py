"""What pair classification predicts from: pairs of texts, given to ``predict`` as ``("first", "second")``
(or a two-item list, or ``{"text": ..., "text_pair": ...}``), or read from a file: csv/tsv/json/jsonl/parquet
with both text columns, JSON lines with both fields, or lines of two tab-separated texts (stdin).

Anything else is refused, never turned into a string with ``str()``: a lone string is not half a pair.

Example:
    >>> prediction_frame([("how do I pay", "where can I pay")])[["text", "text_pair"]].values.tolist()
    [['how do I pay', 'where can I pay']]
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pandas as pd

from finegrain.data.inputs import (InputField, InputFormat, InputSource, kind_of, read_jsonl_fields, read_lines,
                                   read_table_fields, text_value)
from finegrain.errors import DataError

__all__ = ["INPUT_FORMATS", "FIELDS", "prediction_frame", "as_pair"]

_EXAMPLE = '{"text": "how do I pay", "text_pair": "where can I pay"}'
FIELDS = (InputField(("text",), text_value, "text", _EXAMPLE, key="text"),
          InputField(("text_pair",), text_value, "second text", _EXAMPLE, key="text_pair"))
_PYTHON_EXAMPLE = 'predict([("how do I pay", "where can I pay")])'


def _read_lines_or_jsonl(source: InputSource) -> list[tuple[str, str]]:
    """JSON lines when the first non-blank character is ``{``, else two tab-separated texts per line."""
    text = source.text()
    if text.lstrip().startswith("{"):
        return read_jsonl_fields(source, FIELDS, text)
    pairs = []
    for number, line in enumerate(read_lines(source, text), start=1):
        sides = line.split("\t")
        if len(sides) != 2 or not all(side.strip() for side in sides):
            found = f"{len(sides)} tab-separated part(s)" if len(sides) != 2 else "an empty side"
            raise DataError(f"line {number} has {found}, but each line must be two texts separated by one tab.",
                            where=source.where, hint=f"write 'first text<TAB>second text', or JSON lines like"
                                                     f" {_EXAMPLE}.")
        pairs.append((sides[0], sides[1]))
    return pairs


INPUT_FORMATS = (
    InputFormat("csv/tsv/json/jsonl/parquet with both text columns",
                (".csv", ".tsv", ".tab", ".json", ".jsonl", ".ndjson", ".parquet"),
                lambda source: read_table_fields(source, FIELDS)),
    InputFormat("JSON lines with 'text' and 'text_pair' fields, or two tab-separated texts per line", (),
                _read_lines_or_jsonl),
)


def as_pair(value: Any) -> tuple[str, str] | None:
    """A pair of strings from a tuple or list of two, or a mapping with ``text`` and ``text_pair``; else None."""
    if isinstance(value, dict):
        value = (value.get("text"), value.get("text_pair")) if set(value) == {"text", "text_pair"} else None
    if isinstance(value, (tuple, list)) and len(value) == 2 and all(isinstance(side, str) for side in value):
        return value[0], value[1]
    return None


def prediction_frame(inputs: Sequence[Any]) -> pd.DataFrame:
    """The pairs as a frame (``text``, ``text_pair``, ``row``: the input's 1-based position); anything else
    is an error."""
    pairs = []
    for index, value in enumerate(inputs):
        pair = as_pair(value)
        if pair is None:
            lone = " A single pair goes in a list too." if isinstance(value, str) else ""
            raise DataError(f"inputs[{index}] is {kind_of(value)}, but pair classification predicts from pairs of"
                            " texts: (first, second), or {'text': ..., 'text_pair': ...}." + lone, where="predict",
                            hint=f"give a list of pairs, e.g. {_PYTHON_EXAMPLE}.")
        pairs.append(pair)
    return pd.DataFrame({"text": [a for a, _ in pairs], "text_pair": [b for _, b in pairs],
                         "row": range(1, len(pairs) + 1)})
