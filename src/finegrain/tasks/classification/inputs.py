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

from finegrain.data.inputs import InputField, text_formats, text_frame, text_value

__all__ = ["INPUT_FORMATS", "prediction_frame"]

INPUT_FORMATS = text_formats(InputField(("text",), text_value, "text", '{"text": "..."}'), "text")


def prediction_frame(inputs: Sequence[Any]) -> pd.DataFrame:
    """The texts as a frame (``text``, ``row``: the input's 1-based position); anything else is an error."""
    return text_frame(inputs, "text", "classification", 'predict(["great film", "awful day"])')
