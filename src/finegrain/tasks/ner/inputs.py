"""What the NER task predicts from: raw texts (``str``: split into words, entities with character offsets)
or pre-tokenised sentences (a list of ``str`` words: entities with word indices), given to ``predict``,
or read from a file: CoNLL (the first column of each line), JSON lines with a ``tokens`` list or a
``text``, a table with such a column, or plain text with one sentence per line.

Anything else is refused, never turned into a string with ``str()`` (which would tag the characters of
"['EU', 'rejects']"). One call may mix texts and token lists.

Example:
    >>> prediction_split(["EU rejects it", ["EU", "rejects"]], "auto").frame["tokens"].tolist()
    [['EU', 'rejects', 'it'], ['EU', 'rejects']]
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pandas as pd

from finegrain.data.conll import conll_sentences
from finegrain.data.inputs import (InputField, InputFormat, kind_of, read_jsonl, read_lines_or_jsonl,
                                   read_table_column)
from finegrain.data.split import Split
from finegrain.errors import DataError
from finegrain.tasks.ner.spans import split_words

__all__ = ["INPUT_FORMATS", "prediction_split", "token_list"]

_EXPECTED = "NER predicts from raw texts (str) or token lists (a list of str)"
_HINT = 'e.g. predict(["EU rejects German call"]) or predict([["EU", "rejects", "German", "call"]]).'


def token_list(value: Any) -> list[str] | None:
    """A non-empty list of string tokens (from a list, tuple or array), or None."""
    if hasattr(value, "tolist") and not isinstance(value, str):
        value = value.tolist()
    if isinstance(value, (list, tuple)) and value and all(isinstance(token, str) for token in value):
        return list(value)
    return None


def _file_value(value: Any) -> str | list[str] | None:
    if isinstance(value, str):
        return value if value.strip() else None
    return token_list(value)


_FIELD = InputField(("tokens", "text"), _file_value, "text or token list",
                    '{"tokens": ["EU", "rejects", "German", "call"]} or {"text": "EU rejects German call"}')
INPUT_FORMATS = (
    InputFormat("CoNLL (token first on each line, a blank line between sentences)",
                (".conll", ".iob", ".bio", ".bioes"), lambda source: conll_sentences(source.text(), source.where)),
    InputFormat("JSON lines with 'tokens' or 'text'", (".jsonl", ".ndjson"),
                lambda source: read_jsonl(source, _FIELD)),
    InputFormat("csv/tsv/json/parquet with a tokens or text column", (".csv", ".tsv", ".tab", ".json", ".parquet"),
                lambda source: read_table_column(source, _FIELD)),
    InputFormat("text (one sentence per line) or JSON lines", (),
                lambda source: read_lines_or_jsonl(source, _FIELD)),
)


def prediction_split(inputs: Sequence[Any], language: str) -> Split:
    """The inputs as sentences: ``tokens`` for every one, and for raw texts their ``text`` and the character
    ``offsets`` of each word (None for a token list); ``row`` is the input's 1-based position.

    ``language`` splits raw texts into words as the task's ``language`` parameter says.
    """
    rows = []
    for index, value in enumerate(inputs):
        if isinstance(value, str):
            words = split_words(value, None if language == "auto" else language)
            rows.append((value, [w for w, _, _ in words], [(start, end) for _, start, end in words]))
        else:
            rows.append((None, _checked_tokens(index, value), None))
    frame = pd.DataFrame(rows, columns=["text", "tokens", "offsets"])
    frame["row"] = range(1, len(rows) + 1)
    return Split("input", frame, "input")


def _checked_tokens(index: int, value: Any) -> list[str]:
    tokens = token_list(value)
    if tokens is not None:
        return tokens
    if isinstance(value, (list, tuple)) and value:
        position, token = next((i, t) for i, t in enumerate(value) if not isinstance(t, str))
        raise DataError(f"inputs[{index}][{position}] is {kind_of(token)}: a token list holds strings only.",
                        where="predict", hint=_HINT)
    what = "an empty token list" if isinstance(value, (list, tuple)) else kind_of(value)
    raise DataError(f"inputs[{index}] is {what}, but {_EXPECTED}.", where="predict", hint=_HINT)
