"""What the classification task predicts from: texts, given to ``predict`` as ``str``, or read from a file
(one text per line or JSON lines with a ``text`` field; csv/tsv/json/jsonl/parquet with a text column).

Anything that is not a string is refused, never turned into one with ``str()``.

Example:
    >>> prediction_frame(["great film"])["text"].tolist()
    ['great film']
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pandas as pd

from finegrain.data.inputs import (InputField, InputFormat, kind_of, read_lines_or_jsonl, read_table_column,
                                   text_value)
from finegrain.errors import DataError

__all__ = ["INPUT_FORMATS", "prediction_frame"]

_FIELD = InputField(("text",), text_value, "text", '{"text": "..."}')
INPUT_FORMATS = (
    InputFormat("csv/tsv/json/jsonl/parquet with a text column",
                (".csv", ".tsv", ".tab", ".json", ".jsonl", ".ndjson", ".parquet"),
                lambda source: read_table_column(source, _FIELD)),
    InputFormat("text (one per line) or JSON lines with a 'text' field", (),
                lambda source: read_lines_or_jsonl(source, _FIELD)),
)


def prediction_frame(inputs: Sequence[Any]) -> pd.DataFrame:
    """The texts as a frame (``text``, ``row``: the input's 1-based position); anything else is an error."""
    for index, value in enumerate(inputs):
        if not isinstance(value, str):
            raise DataError(f"inputs[{index}] is {kind_of(value)}, but classification predicts from texts (str).",
                            where="predict", hint="give a list of strings, e.g. predict([\"great film\", \"awful"
                                                  " day\"]); read a file's text column first.")
    return pd.DataFrame({"text": list(inputs), "row": range(1, len(inputs) + 1)})
