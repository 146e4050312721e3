"""Readers for token-level data: CoNLL columns and JSON lines with ``tokens`` and ``tags``.

Both return a frame with the canonical NER columns ``tokens`` (list[str]), ``tags`` (list[str])
and ``row`` (the 1-based line where the sentence starts), so every later error can point at
the exact line of the file. Errors say where, what was expected and how to fix it.

Example:
    >>> frame = read_conll("train.conll")  # doctest: +SKIP
    >>> frame.loc[0, "tokens"], frame.loc[0, "tags"], frame.loc[0, "row"]  # doctest: +SKIP
    (['EU', 'rejects'], ['B-ORG', 'O'], 1)
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pandas as pd

from finegrain.errors import DataError
from finegrain.text_encoding import decode_text

__all__ = ["read_conll", "read_token_jsonl", "conll_sentences"]

LOGGER = logging.getLogger("finegrain")
_DOCSTART = "-DOCSTART-"
_CSV_HEADER_WORDS = {"text", "label", "labels", "sentence", "review", "category", "class", "target"}


def _read_text(path: Path) -> str:
    """The file as text (UTF-8, or the encoding a BOM names), with errors that name the byte and line."""
    if not path.is_file():
        raise DataError(
            "file not found" if not path.exists() else "not a file",
            where=str(path),
            hint="check the path in data.train / data.validation / data.test",
        )
    text = decode_text(path.read_bytes(), str(path))
    if not text.strip():
        raise DataError("file is empty", where=str(path), hint="give a file with at least one sentence")
    return text


def _lines(text: str) -> list[str]:
    """Lines split on '\\n' only, so line numbers match editors and odd separators stay in tokens."""
    return [line.rstrip("\r") for line in text.split("\n")]


def _split_columns(line: str) -> list[str]:
    """Tab-separated columns when the line has tabs (tokens may then hold spaces), else whitespace."""
    stripped = line.strip()
    if "\t" in stripped:
        return [column.strip() for column in stripped.split("\t")]
    return stripped.split()


def _reject_csv(first_line: str, path: Path) -> None:
    cells = [cell.strip().strip('"').lower() for cell in first_line.split(",")]
    if "\t" not in first_line and len(cells) >= 2 and _CSV_HEADER_WORDS & set(cells):
        raise DataError(
            f"this looks like a classification CSV (header '{first_line.strip()}'), not CoNLL token data",
            where=f"{path}:1",
            hint="NER data needs one token per line with its tag (`token<TAB>tag`) and a blank line "
            "between sentences; for text classification use the classification task",
        )


def _tag_index(columns: list[str], tag_column: int | None, option: str, where: str) -> int:
    """The tag's column index; with more than two columns and no choice, the last, said once."""
    n_columns = len(columns)
    chosen = -1 if tag_column is None else tag_column
    index = chosen if chosen >= 0 else n_columns + chosen
    if n_columns < 2 or not 0 < index < n_columns:
        raise DataError(
            f"expected a token column and a tag column (tag_column={chosen}), found {n_columns} column(s)",
            where=where,
            hint=f"write `token<TAB>tag` per line; with more columns, pick the tag with {option}=N "
            "(0 is the token, -1 the last column)",
        )
    if tag_column is None and n_columns > 2:
        LOGGER.warning("finegrain: %s: %d columns per token line ('%s'); column %d (the last; column 0 is the"
                       " token) is read as the tag. To read another, set %s=N (-1: the last).",
                       where, n_columns, " | ".join(columns), index, option)
    return index


def _check_width(columns: list[str], expected: int, first_line: int, path: Path, lineno: int) -> None:
    if len(columns) != expected:
        raise DataError(
            f"expected {expected} columns (as on line {first_line}), found {len(columns)}: "
            f"{' | '.join(columns)!r}",
            where=f"{path}:{lineno}",
            hint="give every token line the same columns; separate columns with tabs when tokens "
            "contain spaces, and leave a blank line between sentences",
        )


def read_conll(path: str | Path, *, tag_column: int | None = None,
               option: str = "data.tag_column") -> pd.DataFrame:
    """Sentences of a CoNLL file: one ``token ... tag`` line per token, blank lines between sentences.

    Columns are tab-separated (or whitespace-separated when a line has no tab); the token is the
    first column and the tag ``tag_column`` (None: the last, with a warning when there are more
    than two columns, since a POS or chunk column may be meant). ``option`` is the setting that
    chooses the tag column, as messages name it. ``-DOCSTART-`` lines and empty sentences are skipped.
    """
    path = Path(path)
    lines = _lines(_read_text(path))
    _reject_csv(next(line for line in lines if line.strip()), path)
    sentences: list[dict] = []
    tokens: list[str] = []
    tags: list[str] = []
    start = width = width_line = tag_index = 0
    for lineno, line in enumerate(lines + [""], start=1):
        columns = _split_columns(line)
        if not columns or columns[0] == _DOCSTART:
            if tokens:
                sentences.append({"tokens": tokens, "tags": tags, "row": start})
            tokens, tags = [], []
            continue
        if not width:
            width, width_line = len(columns), lineno
            tag_index = _tag_index(columns, tag_column, option, f"{path}:{lineno}")
        _check_width(columns, width, width_line, path, lineno)
        if not tokens:
            start = lineno
        tokens.append(columns[0])
        tags.append(columns[tag_index])
    return _frame(sentences, path)


def conll_sentences(text: str, where: str) -> list[list[str]]:
    """The token lists of CoNLL text to predict: the first column of each line, a blank line between
    sentences (tag columns, if any, are ignored; ``-DOCSTART-`` lines are skipped)."""
    sentences: list[list[str]] = []
    tokens: list[str] = []
    for line in _lines(text) + [""]:
        columns = _split_columns(line)
        if columns and columns[0] != _DOCSTART:
            tokens.append(columns[0])
        elif tokens:
            sentences.append(tokens)
            tokens = []
    if not sentences:
        raise DataError("has no sentences: there is nothing to predict.", where=where,
                        hint="write one token per line (further columns are ignored) and a blank line between"
                             " sentences.")
    return sentences


def _frame(sentences: list[dict], path: Path) -> pd.DataFrame:
    if not sentences:
        raise DataError(
            "no sentences found",
            where=str(path),
            hint="the file holds only blank or -DOCSTART- lines; give at least one token line",
        )
    return pd.DataFrame(sentences, columns=["tokens", "tags", "row"])


def _parse_json_line(line: str, where: str) -> dict:
    try:
        record = json.loads(line)
    except json.JSONDecodeError as error:
        raise DataError(
            f"invalid JSON at column {error.colno}: {error.msg}",
            where=where,
            hint='write one JSON object per line, e.g. {"tokens": ["EU", "rejects"], "tags": ["B-ORG", "O"]}',
        ) from None
    if not isinstance(record, dict):
        raise DataError(f"expected a JSON object, found {type(record).__name__}", where=where,
                        hint='write one object per line: {"tokens": [...], "tags": [...]}')
    return record


def _string_list(record: dict, key: str, where: str) -> list[str]:
    value = record.get(key)
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        found = "missing" if value is None else f"{type(value).__name__} {value!r:.60}"
        raise DataError(
            f"expected '{key}' to be a list of strings, found {found}",
            where=where,
            hint=f"give every line a '{key}' list of strings; keys present: {', '.join(map(str, record)) or 'none'}",
        )
    return value


def read_token_jsonl(path: str | Path, *, tokens_key: str = "tokens", tags_key: str = "tags") -> pd.DataFrame:
    """Sentences of a JSON-lines file whose objects hold parallel ``tokens`` and ``tags`` lists.

    Blank lines and sentences with no tokens are skipped; ``row`` is the line number.
    """
    path = Path(path)
    sentences: list[dict] = []
    for lineno, line in enumerate(_lines(_read_text(path)), start=1):
        if not line.strip():
            continue
        where = f"{path}:{lineno}"
        record = _parse_json_line(line, where)
        tokens = _string_list(record, tokens_key, where)
        tags = _string_list(record, tags_key, where)
        if len(tokens) != len(tags):
            raise DataError(
                f"{len(tokens)} tokens but {len(tags)} tags",
                where=where,
                hint=f"give exactly one tag per token in '{tags_key}'",
            )
        if tokens:
            sentences.append({"tokens": tokens, "tags": tags, "row": lineno})
    return _frame(sentences, path)
