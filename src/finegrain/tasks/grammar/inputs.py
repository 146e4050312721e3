"""What grammatical error correction predicts from: texts, given to ``predict`` as ``str``, or read from a file
(one text per line, JSON lines with a ``text`` or ``source`` field, or csv/tsv/json/jsonl/parquet with such a
column).

Example:
    >>> prediction_frame(["He go home."])["source"].tolist()
    ['He go home.']
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pandas as pd

from finegrain.data.inputs import InputField, text_formats, text_frame, text_value

__all__ = ["INPUT_FORMATS", "prediction_frame"]

INPUT_FORMATS = text_formats(InputField(("text", "source"), text_value, "text", '{"text": "..."}'), "text (or source)")


def prediction_frame(inputs: Sequence[Any]) -> pd.DataFrame:
    """The texts as a frame (``source``, ``row``); anything that is not a string is an error."""
    return text_frame(inputs, "source", "grammatical error correction", 'predict(["He go to school."])')
