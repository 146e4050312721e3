"""Read M2 files (CoNLL-2013/2014, BEA-2019, ERRANT's output): sentences and their annotated edits, as
``source``/``target`` pairs for grammatical error correction.

Each block is one ``S`` line (the tokenised sentence) and its ``A`` lines::

    S This are a sentence .
    A 1 2|||R:VERB:SVA|||is|||REQUIRED|||-NONE-|||0

An ``A`` line is ``start end|||type|||correction|||required|||comment|||annotator`` over token offsets
(``-NONE-`` or nothing as the correction: a deletion; ``-1 -1|||noop``: no edit). The edits of annotator 0
are applied to give the target, as the shared tasks' first reference; the others are skipped. The source is
the tokens joined by spaces, as M2 stores them. ``row`` is the line of the ``S``.

Example:
    >>> parse_m2("S He go .\\nA 1 2|||R:VERB:SVA|||goes|||REQUIRED|||-NONE-|||0\\n", "x.m2").to_dict("records")
    [{'source': 'He go .', 'target': 'He goes .', 'row': 1}]
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from finegrain.errors import DataError
from finegrain.text_encoding import decode_text

__all__ = ["read_m2", "parse_m2"]

_FIELDS = 6
_HINT = ("an M2 file holds blocks of one 'S tokens' line and 'A start end|||type|||correction|||REQUIRED|||-NONE-|||"
         "annotator' lines, blocks separated by a blank line; fix or remove that line.")


def _edit(line: str, tokens: int, where: str) -> tuple[int, int, list[str], str]:
    fields = line[2:].split("|||")
    if len(fields) != _FIELDS:
        raise DataError(f"an A line needs {_FIELDS} fields separated by '|||'; found {len(fields)}: '{line}'.",
                        where=where, hint=_HINT)
    span = fields[0].split()
    try:
        start, end = (int(value) for value in span)
    except ValueError:
        raise DataError(f"an A line starts with two token offsets 'start end'; found '{fields[0]}'.", where=where,
                        hint=_HINT) from None
    if (start, end) != (-1, -1) and not 0 <= start <= end <= tokens:
        raise DataError(f"edit offsets {start} {end} are outside the sentence's {tokens} token(s).", where=where,
                        hint="offsets count tokens from 0, end exclusive: check the A line against its S line.")
    correction = fields[2].strip()
    words = [] if correction in ("-NONE-", "") else correction.split()
    return start, end, words, fields[5].strip()


def _target(tokens: list[str], edits: list[tuple[int, int, list[str]]]) -> str:
    result, shift = list(tokens), 0
    for start, end, words in sorted(edits, key=lambda e: (e[0], e[1])):
        result[start + shift:end + shift] = words
        shift += len(words) - (end - start)
    return " ".join(result)


def parse_m2(text: str, source: str) -> pd.DataFrame:
    """The pairs of an M2 text (``source``: the file, for messages)."""
    rows: list[dict] = []
    tokens: list[str] | None = None
    edits: list[tuple[int, int, list[str]]] = []
    start_line = 0

    def close() -> None:
        if tokens is not None:
            rows.append({"source": " ".join(tokens), "target": _target(tokens, edits), "row": start_line})

    for number, raw in enumerate(text.split("\n"), start=1):
        line = raw.rstrip("\r")
        where = f"{source}:{number}"
        if not line.strip():
            continue
        if line.startswith("S ") or line == "S":
            close()
            tokens, edits, start_line = line[2:].split(), [], number
        elif line.startswith("A "):
            if tokens is None:
                raise DataError("an A line comes before any S line.", where=where, hint=_HINT)
            start, end, words, annotator = _edit(line, len(tokens), where)
            if annotator == "0" and (start, end) != (-1, -1):
                edits.append((start, end, words))
        else:
            raise DataError(f"a line of an M2 file starts with 'S ' or 'A '; found '{line[:60]}'.", where=where,
                            hint=_HINT)
    close()
    return pd.DataFrame(rows, columns=["source", "target", "row"])


def read_m2(path: Path) -> pd.DataFrame:
    return parse_m2(decode_text(path.read_bytes(), str(path)), str(path))
