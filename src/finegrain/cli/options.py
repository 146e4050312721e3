"""Options that several commands share, defined once so that their help reads the same everywhere."""

from __future__ import annotations

import argparse

__all__ = ["add_base_option"]


def add_base_option(parser: argparse.ArgumentParser) -> None:
    """``--base PATH``: where an adapter run's base model is now, when the run no longer finds it."""
    parser.add_argument(
        "--base", metavar="PATH",
        help="the base model of an adapter or embeddings-lr run (folder, registered or hub name); needed only"
             " where the run no longer finds it by the name or relative path it recorded")
