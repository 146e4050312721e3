"""load_splits: built-ins by name and name:split, files, carved validation, subsampling, typos."""

from __future__ import annotations

import pytest

from finegrain.data.sources import load_splits
from finegrain.errors import DataError
from conftest import make_sentiment_rows, write_csv

COLUMNS = {"text": "text", "label": "label"}


def load(train, validation=None, test=None, *, columns=COLUMNS, max_train_examples=None, seed=0):
    return load_splits(train, validation, test, columns=columns, stratify="label", validation_fraction=0.1,
                       max_train_examples=max_train_examples, seed=seed)


def test_builtin_name_brings_its_own_splits():
    splits = load("bbc-news")
    assert {name: split.source for name, split in splits.items()} == {
        "train": "bbc-news:train", "validation": "bbc-news:validation", "test": "bbc-news:test"}
    assert splits["test"].where(0) == "bbc-news:test, row 1"


def test_builtin_subsample_keeps_every_class():
    splits = load("bbc-news", max_train_examples=50)
    assert len(splits["train"]) == 50 and splits["train"].frame["label"].nunique() == 5
    assert len(splits["validation"]) > 200


def test_name_split_and_file_mix(tmp_path):
    test_file = write_csv(tmp_path / "test.csv", make_sentiment_rows(9))
    splits = load("bbc-news:validation", test=str(test_file))
    assert splits["train"].source == "bbc-news:validation" and splits["validation"].source == "bbc-news:validation"
    assert not set(splits["train"].frame["text"]) & set(splits["validation"].frame["text"])
    assert splits["test"].source == str(test_file) and len(splits["test"]) == 9


def test_files_with_renamed_columns_and_carved_validation(tmp_path):
    rows = [{"review": row["text"], "stars": row["label"]} for row in make_sentiment_rows(60)]
    train = write_csv(tmp_path / "train.csv", rows)
    splits = load(str(train), columns={"text": "review", "label": "stars"})
    assert set(splits) == {"train", "validation"}
    assert (len(splits["train"]), len(splits["validation"])) == (54, 6)
    assert set(splits["validation"].frame["label"]) == {"pos", "neg", "neu"}
    assert list(splits["train"].frame.columns) == ["text", "label", "row"]
    assert not set(splits["train"].frame["row"]) & set(splits["validation"].frame["row"])
    again = load(str(train), columns={"text": "review", "label": "stars"})
    assert again["validation"].frame.equals(splits["validation"].frame)


def test_explicit_validation_file(sentiment_files):
    files = {name: str(path) for name, path in sentiment_files.items()}
    splits = load(files["train"], files["validation"], files["test"], max_train_examples=30)
    assert {name: len(split) for name, split in splits.items()} == {"train": 30, "validation": 30, "test": 30}


def test_typo_gets_did_you_mean():
    with pytest.raises(DataError) as caught:
        load("bbc-nwes")
    message = str(caught.value)
    assert "Did you mean 'bbc-news'" in message and "chinese-reviews" in message and "existing" in message


def test_bad_split_name_and_missing_file(tmp_path):
    with pytest.raises(DataError, match="Did you mean 'test'"):
        load("bbc-news", test="bbc-news:tset")
    with pytest.raises(DataError, match="not found"):
        load(str(tmp_path / "nope.csv"))


def test_too_small_train_file_names_the_file(tmp_path):
    train = write_csv(tmp_path / "tiny.csv", make_sentiment_rows(1))
    with pytest.raises(DataError, match="tiny.csv.*at least 2"):
        load(str(train))
