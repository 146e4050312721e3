"""What spelling correction predicts from: texts, given to ``predict`` as ``str``, or read from a file (one text
per line, JSON lines with a ``text`` or ``source`` field, or csv/tsv/json/jsonl/parquet with such a column).

Example:
    >>> prediction_frame(["我门好"])["source"].tolist()
    ['我门好']
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pandas as pd

from finegrain.data.inputs import (InputField, InputFormat, kind_of, read_lines_or_jsonl, read_table_column,
                                   text_value)
from finegrain.errors import DataError

__all__ = ["INPUT_FORMATS", "prediction_frame"]

_FIELD = InputField(("text", "source"), text_value, "text", '{"text": "..."}')
INPUT_FORMATS = (
    InputFormat("csv/tsv/json/jsonl/parquet with a text (or source) column",
                (".csv", ".tsv", ".tab", ".json", ".jsonl", ".ndjson", ".parquet"),
                lambda source: read_table_column(source, _FIELD)),
    InputFormat("text (one per line) or JSON lines with a 'text' field", (),
                lambda source: read_lines_or_jsonl(source, _FIELD)),
)


def prediction_frame(inputs: Sequence[Any]) -> pd.DataFrame:
    """The texts as a frame (``source``, ``row``); anything that is not a string is an error."""
    for index, value in enumerate(inputs):
        if not isinstance(value, str):
            raise DataError(f"inputs[{index}] is {kind_of(value)}, but spelling correction takes texts (str).",
                            where="predict", hint='give a list of strings, e.g. predict(["我门今天去学校"]).')
    return pd.DataFrame({"source": list(inputs), "row": range(1, len(inputs) + 1)})
