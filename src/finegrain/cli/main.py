"""The ``finegrain`` command: argparse subcommands, each in its own module.

Errors a user can cause (:class:`~finegrain.errors.FinegrainError`) are printed as
``error: ...`` without a traceback and exit with code 2; Ctrl-C exits with 130; output into a pipe
whose reader has gone (``| head -1``) stops quietly with 141; anything else is a bug, printed with
its traceback, exit code 1.

Example:
    >>> main(["data", "list"])  # doctest: +SKIP
    0
"""

from __future__ import annotations

import argparse
import os
import sys
import traceback
from collections.abc import Sequence

from finegrain import __version__
from finegrain.cli import (data, evaluate, explain, export, models, predict, pretrain, report, robustness, serve, study,
                           train, tune)
from finegrain.errors import FinegrainError

__all__ = ["main", "build_parser"]

EXIT_USER_ERROR = 2
EXIT_BUG = 1
EXIT_INTERRUPTED = 130  # 128 + SIGINT, what shells report for Ctrl-C
# 128 + SIGPIPE: what shells report for a writer whose reader has gone (`yes | head -1`); Python
# ignores SIGPIPE, so the write raises BrokenPipeError instead, and we exit as the signal would have.
EXIT_BROKEN_PIPE = 141


def build_parser() -> argparse.ArgumentParser:
    """The parser with every subcommand registered by its module."""
    parser = argparse.ArgumentParser(
        prog="finegrain",
        description="Fine-tune transformer encoders on fine-grained NLP tasks.",
        epilog="Run 'finegrain COMMAND --help' for the options of a command.",
    )
    parser.add_argument("--version", action="version", version=f"finegrain {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for module in (train, evaluate, predict, explain, robustness, study, report, pretrain, data, models, export, serve,
                   tune):
        module.add_parser(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Parse ``argv`` (default: ``sys.argv[1:]``), run the command and return its exit code."""
    parser = build_parser()
    try:
        args = _parse(parser, argv)
    except SystemExit as exit_:  # --help, --version and usage errors (argparse exits with 2)
        return int(exit_.code or 0) if not isinstance(exit_.code, str) else EXIT_USER_ERROR
    try:
        return args.handler(args)
    except FinegrainError as error:
        print(f"error: {error.render()}", file=sys.stderr)
        return error.exit_code
    except KeyboardInterrupt as interrupt:
        print(_interrupted_message(args, interrupt), file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:  # the reader stopped reading: not an error, and nothing left to say
        _discard_stdout()
        return EXIT_BROKEN_PIPE
    except Exception:  # a bug, not a user error: show everything needed to report it
        traceback.print_exc()
        print("finegrain: unexpected internal error (a bug); please report it with the traceback above.",
              file=sys.stderr)
        return EXIT_BUG


def _parse(parser: argparse.ArgumentParser, argv: Sequence[str] | None) -> argparse.Namespace:
    """Parse, letting ``train`` take overrides anywhere: ``train --data x train.lr=1e-4 --epochs 2``.

    argparse alone stops filling a ``nargs='*'`` positional once an option follows it.
    """
    args, extras = parser.parse_known_args(argv)
    if extras and getattr(args, "command", None) in ("train", "study", "pretrain"):
        unknown = [item for item in extras if item.startswith("-")]
        if not unknown:
            args.items = list(args.items) + extras
            return args
    if extras:
        parser.error(f"unrecognized arguments: {' '.join(extras)}")
    return args


def _discard_stdout() -> None:
    """Point stdout at /dev/null, so that the interpreter's last flush of what is still buffered does not
    fail again with a message (the recipe of Python's signal docs, "Note on SIGPIPE")."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (AttributeError, OSError, ValueError):  # no real stdout (captured, or closed): nothing to flush
        pass


def _interrupted_message(args: argparse.Namespace, interrupt: KeyboardInterrupt) -> str:
    notes = getattr(interrupt, "__notes__", None)  # what the run did with its folder (training/run_guard.py)
    if notes:
        return f"interrupted: {notes[-1]}"
    if args.command in ("train", "pretrain"):
        return ("interrupted: the last checkpoint in the run directory is kept;"
                " run the same command with --resume to continue from it.")
    return "interrupted."
