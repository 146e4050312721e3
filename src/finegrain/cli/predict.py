"""``finegrain predict``: predict with a finished run, one JSON line per input, in input order.

The run's task says which files it reads (its ``input_formats``): for classification a text file
(one text per line), jsonl with a ``text`` field, or csv/tsv/json/parquet with the run's text
column; for NER also CoNLL and jsonl with a ``tokens`` list; for pairs both text columns (or fields),
or two tab-separated texts per line. ``-`` reads stdin (text lines, or jsonl when the first non-blank
character is ``{``).

Example:
    printf 'great movie\\nawful day\\n' | finegrain predict runs/reviews-full --input -
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Mapping
from pathlib import Path

from finegrain.cli.options import add_base_option
from finegrain.data.inputs import InputFormat, InputSource, choose_format
from finegrain.errors import DataError

__all__ = ["add_parser", "run", "read_inputs"]


def add_parser(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "predict", help="predict labels (or entities) for new texts", description="Predict with a finished run."
        " Output: one JSON object per input (the input, then its prediction), in input order.",
        epilog="Example: finegrain predict runs/bbc-full --input articles.txt --output predictions.jsonl")
    parser.add_argument("run_dir", metavar="RUN_DIR", help="the output directory of 'finegrain train'")
    parser.add_argument("--input", required=True, metavar="FILE|-",
                        help="txt (one text per line), jsonl with a 'text' field, csv/tsv; NER also CoNLL and jsonl"
                             " with 'tokens'; pairs: both text columns, or 'first<TAB>second' lines; '-' reads stdin")
    parser.add_argument("--output", metavar="FILE", help="write jsonl here instead of stdout")
    parser.add_argument("--batch-size", type=int, default=64, help="texts per forward pass (default 64)")
    add_base_option(parser)
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Read the inputs, predict, write one JSON line per input."""
    if args.batch_size < 1:
        raise DataError(f"--batch-size must be at least 1 (got {args.batch_size}).", hint="e.g. --batch-size 32")
    _check_streams(args.input, args.output)
    from finegrain.api import load  # heavy (torch, transformers)

    predictor = load(args.run_dir, base=args.base)
    task = predictor.task
    inputs = read_inputs(args.input, task.input_formats, predictor.config.data.chosen_columns(task.data_columns))
    predictions = predictor.predict(inputs, batch_size=args.batch_size)
    lines = [json.dumps({**task.input_fields(value), **prediction}, ensure_ascii=False)
             for value, prediction in zip(inputs, predictions)]
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
    """A standard stream the shell closed (``<&-``, ``>&-``) is None in Python; act on it before the slow load.

    A closed stdin is an error: there is nothing to predict. A closed stdout means nobody reads the
    predictions, as when the reader of a pipe has gone (``| head -1``): finegrain stops quietly with the
    same status, 141, through the broken-pipe path of cli/main.py, instead of loading the model for nothing.
    """
    if source == "-" and sys.stdin is None:
        raise DataError("stdin is closed, so there are no texts to read.", where="<stdin>",
                        hint="pipe the texts in (cat texts.txt | finegrain predict RUN --input -), or give a file:"
                        " --input FILE.")
    if output is None and sys.stdout is None:
        raise BrokenPipeError("stdout is closed")


def read_inputs(source: str, formats: tuple[InputFormat, ...], columns: Mapping[str, str]) -> list:
    """The inputs of ``source`` (a path or '-') in order, read in the format the task declares for its
    suffix (stdin and other files: the task's fallback); ``columns``: the run's column keys -> its columns
    (``data.text``, ...), read first. Every problem names the line and the fix."""
    if source == "-":
        given = InputSource("<stdin>", raw=sys.stdin.buffer.read(), columns=columns)
    else:
        path = Path(source)
        if not path.is_file():
            raise DataError("input file not found." if not path.exists() else "is a folder, not an input file.",
                            where=str(path), hint=f"check the path (relative paths start from {Path.cwd()}), or"
                            " give '-' to read stdin.")
        given = InputSource(str(path), path=path, columns=columns)
    return choose_format(formats, given).read(given)
