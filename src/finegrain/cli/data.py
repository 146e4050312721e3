"""``finegrain data list`` and ``finegrain data show NAME``: the built-in datasets.

Example:
    finegrain data list
    finegrain data show bbc-news
"""

from __future__ import annotations

import argparse
from typing import Any

from rich.table import Table
from rich.text import Text

from finegrain.cli.console import make_console
from finegrain.errors import FinegrainError

__all__ = ["add_parser", "list_datasets", "show_dataset"]

_SPLITS = ("train", "validation", "test")


def add_parser(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser("data", help="built-in datasets", description="Built-in datasets.")
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    listing = actions.add_parser("list", help="list the built-in datasets")
    listing.set_defaults(handler=list_datasets)
    show = actions.add_parser("show", help="card, sizes and label counts of a dataset",
                              epilog="Example: finegrain data show tweet-sentiment")
    show.add_argument("name", metavar="NAME")
    show.set_defaults(handler=show_dataset)


def list_datasets(args: argparse.Namespace) -> int:
    """One row per built-in: name, task, language, labels, split sizes, source package."""
    from finegrain.registry import DATASETS

    table = Table(title="Built-in datasets")
    for column in ("name", "task", "language", "labels", "sizes (train/validation/test)", "source package"):
        table.add_column(column)
    for name, dataset in DATASETS.items():
        sizes = _sizes(dataset)  # loading first: a card may take its labels from the data
        card = dataset.card
        table.add_row(Text(name), card.task, card.language, Text(_labels(card.labels, examples=0)), sizes,
                      Text(card.source_package))
    make_console().print(table)
    return 0


def _sizes(dataset: Any) -> str:
    if not dataset.available():  # listing should not start a download
        return "downloaded on first use"
    try:
        dataset.load()
    except FinegrainError:  # e.g. the package that ships it is not installed
        return "not installed"
    sizes = dataset.card.sizes
    return "/".join(str(sizes.get(split, "-")) for split in _SPLITS)


def _labels(labels: tuple[str, ...], examples: int) -> str:
    """All labels, or their number (and the first ``examples``) when there are too many to read in a row."""
    if not labels:
        return "from the data"
    if len(labels) <= 10:
        return ", ".join(labels)
    return f"{len(labels)} labels" + (f": {', '.join(labels[:examples])}, ..." if examples else "")


def show_dataset(args: argparse.Namespace) -> int:
    """The card of one dataset, its split sizes and the label counts per split."""
    from finegrain.data.builtin import describe

    info = describe(args.name)
    console = make_console()
    card = Table(title=f"Dataset {info['name']}", show_header=False)
    card.add_column("field", style="bold")
    card.add_column("value")
    for field in ("description", "task", "language", "labels", "source_package", "package_version", "license",
                  "homepage", "citation", "notes", "cleaning"):
        value = _labels(tuple(info["labels"]), examples=3) if field == "labels" else _shown(info.get(field))
        card.add_row(field.replace("_", " "), Text(value))
    console.print(card)
    console.print(_counts_table(info))
    return 0


def _shown(value: Any) -> str:
    if isinstance(value, dict):
        return ", ".join(f"{key} {count:,}" for key, count in value.items()) or "-"
    return "-" if value in (None, "") else str(value)


def _counts_table(info: dict[str, Any]) -> Table:
    counts: dict[str, dict[str, int]] = info["label_counts"]
    table = Table(title="Label counts per split (the card notes say what is counted)")
    table.add_column("label")
    for split in counts:
        table.add_column(split, justify="right")
    for label in info["labels"]:
        table.add_row(Text(label), *(str(counts[split].get(label, 0)) for split in counts))
    table.add_row(Text("examples", style="bold"), *(str(info["sizes"].get(split, 0)) for split in counts))
    return table
