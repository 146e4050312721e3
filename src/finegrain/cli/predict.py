"""``finegrain predict``: label texts with a finished run, one JSON line per input, in input order.

Input is a text file (one text per line), jsonl with a ``text`` field, or csv/tsv/json/parquet
with the run's text column; ``-`` reads stdin (text lines, or jsonl when the first non-blank
character is ``{``).

Example:
    printf 'great movie\\nawful day\\n' | finegrain predict runs/reviews-full --input -
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from finegrain.cli.options import add_base_option
from finegrain.errors import DataError
from finegrain.text_encoding import decode_text

__all__ = ["add_parser", "run", "read_texts", "parse_lines", "parse_jsonl"]

_TABLE_EXTENSIONS = (".csv", ".tsv", ".tab", ".json", ".jsonl", ".ndjson", ".parquet")


def add_parser(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "predict", help="predict labels for new texts", description="Predict with a finished run. Output:"
        " one JSON object per input (text, label, scores), in input order.",
        epilog="Example: finegrain predict runs/bbc-full --input articles.txt --output predictions.jsonl")
    parser.add_argument("run_dir", metavar="RUN_DIR", help="the output directory of 'finegrain train'")
    parser.add_argument("--input", required=True, metavar="FILE|-",
                        help="txt (one text per line), jsonl with a 'text' field, csv/tsv; '-' reads stdin")
    parser.add_argument("--output", metavar="FILE", help="write jsonl here instead of stdout")
    parser.add_argument("--batch-size", type=int, default=64, help="texts per forward pass (default 64)")
    add_base_option(parser)
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Read the texts, predict, write one JSON line per text."""
    if args.batch_size < 1:
        raise DataError(f"--batch-size must be at least 1 (got {args.batch_size}).", hint="e.g. --batch-size 32")
    _check_streams(args.input, args.output)
    from finegrain.api import load  # heavy (torch, transformers)

    predictor = load(args.run_dir, base=args.base)
    texts = read_texts(args.input, predictor.config.data.text)
    predictions = predictor.predict(texts, batch_size=args.batch_size)
    lines = [json.dumps({"text": text, **prediction}, ensure_ascii=False)
             for text, prediction in zip(texts, predictions)]
    if args.output is None:
        sys.stdout.write("".join(line + "\n" for line in lines))
        sys.stdout.flush()
    else:
        try:
            Path(args.output).write_text("".join(line + "\n" for line in lines), encoding="utf-8")
        except OSError as error:
            raise DataError(f"cannot write the predictions: {error.strerror or error}.", where=args.output,
                            hint="give --output a path in a folder you can write to.") from None
        print(f"wrote {len(lines)} predictions to {args.output}")
    return 0


def _check_streams(source: str, output: str | None) -> None:
    """A standard stream the shell closed (``<&-``, ``>&-``) is None in Python; say so before the slow load.

    A closed stdout is an error, as for coreutils (``ls >&-``: "write error: Bad file descriptor"):
    the predictions would be lost without a word. A reader that stops early (``| head -1``) is not:
    main.py exits quietly on the broken pipe.
    """
    if source == "-" and sys.stdin is None:
        raise DataError("stdin is closed, so there are no texts to read.", where="<stdin>",
                        hint="pipe the texts in (cat texts.txt | finegrain predict RUN --input -), or give a file:"
                        " --input FILE.")
    if output is None and sys.stdout is None:
        raise DataError("stdout is closed, so the predictions would have nowhere to go.", where="<stdout>",
                        hint="write them to a file with --output predictions.jsonl, or leave stdout open.")


def read_texts(source: str, text_column: str) -> list[str]:
    """The texts of ``source`` (a path or '-') in order; every problem names the line and the fix."""
    if source == "-":
        return _parse_raw(sys.stdin.buffer.read(), "<stdin>", text_column)
    path = Path(source)
    if not path.is_file():
        raise DataError("input file not found." if not path.exists() else "is a folder, not an input file.",
                        where=str(path), hint=f"check the path (relative paths start from {Path.cwd()}), or"
                        " give '-' to read stdin.")
    if path.suffix.lower() in _TABLE_EXTENSIONS:
        return _table_texts(path, text_column)
    return _parse_raw(path.read_bytes(), str(path), text_column)


def _parse_raw(raw: bytes, where: str, text_column: str) -> list[str]:
    text = decode_text(raw, where)
    if text.lstrip().startswith("{"):
        return parse_jsonl(text, where, text_column)
    return parse_lines(text, where)


def parse_lines(text: str, where: str) -> list[str]:
    """One text per line; an empty line is an error, so outputs line up 1:1 with input lines."""
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()  # the newline that ends the last line
    texts = [line.rstrip("\r") for line in lines]
    if not texts:
        raise DataError("is empty: there is nothing to predict.", where=where,
                        hint="give one text per line.")
    for number, line in enumerate(texts, start=1):
        if not line.strip():
            raise DataError(f"line {number} is empty; each line is one text, and the output has one"
                            " prediction per line in the same order.", where=where,
                            hint="remove the empty line or put a text on it.")
    return texts


def parse_jsonl(text: str, where: str, text_column: str) -> list[str]:
    """The text field of each JSON line (``text``, or the run's text column); blank lines are errors."""
    texts = []
    for number, line in enumerate(text.rstrip("\n").split("\n"), start=1):
        if not line.strip():
            raise DataError(f"line {number} is empty; each line must be one JSON object.", where=where,
                            hint="remove the empty line.")
        try:
            record = json.loads(line)
        except json.JSONDecodeError as error:
            raise DataError(f"line {number}, column {error.colno} is not valid JSON ({error.msg}).", where=where,
                            hint='write one object per line, e.g. {"text": "..."}.') from None
        texts.append(_field(record, number, where, text_column))
    return texts


def _field(record: object, number: int, where: str, text_column: str) -> str:
    keys = list(record) if isinstance(record, dict) else []
    column = next((name for name in ("text", text_column) if name in keys), None)
    if column is None:
        found = ", ".join(keys) if isinstance(record, dict) else f"a JSON {type(record).__name__}"
        raise DataError(f"line {number} has no 'text' field (found: {found or 'no fields'}).", where=where,
                        hint='give each line a text field, e.g. {"text": "..."}'
                             + (f" (or '{text_column}', the run's text column)." if text_column != "text" else "."))
    value = record[column]
    if not isinstance(value, str) or not value.strip():
        raise DataError(f"line {number}: field '{column}' is {'empty' if isinstance(value, str) else repr(value)},"
                        " but a non-empty text was expected.", where=where,
                        hint="put a text there or remove the line.")
    return value


def _table_texts(path: Path, text_column: str) -> list[str]:
    """csv/tsv/json/jsonl/parquet through the data layer's reader; the run's text column, or 'text'."""
    from finegrain.data.tables import ROW, read_table

    frame = read_table(path)
    found = [str(c) for c in frame.columns if c != ROW]
    column = next((name for name in (text_column, "text") if name in found), None)
    if column is None:
        raise DataError(f"has no column '{text_column}' (the run's text column). Found columns: {', '.join(found)}.",
                        where=str(path), hint=f"rename the column that holds the texts to '{text_column}'.")
    texts = []
    for row, value in zip(frame[ROW], frame[column]):
        if not isinstance(value, str) or not value.strip():
            raise DataError(f"row {row}: column '{column}' is empty, but each row needs a text.", where=str(path),
                            hint="fill in the text or remove the row.")
        texts.append(value)
    return texts
