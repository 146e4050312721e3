"""Decode a user's text file (data, config, prediction input), or say exactly why it cannot be.

Text is read as UTF-8. A byte-order mark (BOM) names its encoding without guessing, so files that
start with one are read in it: UTF-8, UTF-16 and UTF-32 (Excel's "Unicode Text" and Notepad's
"Unicode" save UTF-16 with a BOM). Without a BOM nothing else is guessed: a byte that is not UTF-8
is an error naming its offset, line and column and how to convert the file. NUL bytes, which no
text format read here contains, are named as UTF-16 without a BOM when every other byte is one,
else as a binary file.

Example:
    >>> decode_text("text,label\\n".encode("utf-16"), "train.csv")
    'text,label\\n'
"""

from __future__ import annotations

import codecs
from pathlib import Path

from finegrain.errors import DataError, FinegrainError

__all__ = ["decode_text"]

_BOMS: tuple[tuple[bytes, str], ...] = (
    (codecs.BOM_UTF32_LE, "UTF-32-LE"),  # before UTF-16 LE: its BOM begins with UTF-16 LE's
    (codecs.BOM_UTF32_BE, "UTF-32-BE"),
    (codecs.BOM_UTF8, "UTF-8"),
    (codecs.BOM_UTF16_LE, "UTF-16-LE"),
    (codecs.BOM_UTF16_BE, "UTF-16-BE"),
)
_SNIFF_BYTES = 4096  # enough to tell UTF-16's every-other-byte NULs from a binary file's


def decode_text(raw: bytes, source: str, *, error_type: type[FinegrainError] = DataError) -> str:
    """``raw`` as text: UTF-8, or the encoding its BOM names (the BOM itself is dropped).

    ``source`` names the file in errors (``source:line:column``); ``error_type`` is the error a
    caller raises for its input (:class:`DataError` for data, ``ConfigError`` for a config).
    """
    bom, encoding = next(((bom, name) for bom, name in _BOMS if raw.startswith(bom)), (b"", "UTF-8"))
    body = raw[len(bom):]
    if not bom and b"\x00" in raw:
        raise _nul_error(raw, source, error_type)
    try:
        return body.decode(encoding)
    except UnicodeDecodeError as error:
        raise _decode_error(raw, len(bom), error.start, encoding, source, error_type) from None


def _decode_error(raw: bytes, skip: int, start: int, encoding: str, source: str,
                  error_type: type[FinegrainError]) -> FinegrainError:
    """The first undecodable byte with its byte offset, line and (character) column."""
    before = raw[skip:skip + start].decode(encoding)  # decodes: the error is at ``start``, not before
    line = before.count("\n") + 1
    column = len(before) - (before.rfind("\n") + 1) + 1
    offset = skip + start
    name = Path(source).name
    message = f"byte 0x{raw[offset]:02x} at byte offset {offset} (line {line}) is not valid {encoding}"
    if skip:
        message += f", although the file starts with a {encoding} byte-order mark."
        hint = f"the file is damaged, or its start is not {encoding}: save it again as UTF-8."
    else:
        message += ("; finegrain reads text as UTF-8 (or as UTF-16/UTF-32 when the file starts with a"
                    " byte-order mark).")
        hint = (f"re-encode the file from the encoding it was saved in, e.g. `iconv -f latin1 -t utf-8 {name} >"
                f" utf8-{name}` (cp1252 for files from Excel on Windows), or save it as UTF-8 ('CSV UTF-8').")
    return error_type(message, where=f"{source}:{line}:{column}", hint=hint)


def _nul_error(raw: bytes, source: str, error_type: type[FinegrainError]) -> FinegrainError:
    head = raw[:_SNIFF_BYTES]
    even, odd = head[0::2], head[1::2]
    name = Path(source).name
    first = raw.index(b"\x00")
    # ASCII text in UTF-16 puts a NUL beside every character: after it (LE) or before it (BE)
    if odd and odd.count(0) > 0.4 * len(odd) and even.count(0) < 0.1 * len(even):
        guess = "UTF-16-LE"
    elif even and even.count(0) > 0.4 * len(even) and odd.count(0) < 0.1 * len(odd):
        guess = "UTF-16-BE"
    else:
        return error_type(f"holds a NUL byte (0x00) at byte offset {first}: it looks like a binary file, not text.",
                          where=source, hint="give a text file (UTF-8), or the file in the format its extension"
                                             " names (e.g. .parquet for Parquet).")
    return error_type(
        f"holds NUL bytes (0x00, the first at byte offset {first}), as {guess} text does: it looks like"
        f" {guess} saved without a byte-order mark, which finegrain does not guess.",
        where=source, hint=f"convert it to UTF-8: `iconv -f {guess} -t UTF-8 {name} > utf8-{name}`.")
