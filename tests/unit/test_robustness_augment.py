"""``data.augment``: edited copies of the training split only, seeded, NER tags kept aligned, recorded in the
run's config."""

from __future__ import annotations

import pytest

from finegrain.config import AugmentConfig, dump_config, load_config
from finegrain.errors import ConfigError
from finegrain.robustness import wordnet
from finegrain.robustness.augment import augment_split
from finegrain.tasks.ner.tiny import write_conll
from finegrain.training.setup import build_task, read_splits


def _config(tmp_path, kind: str, data: dict, augment: dict):
    return load_config({"task": {"name": kind}, "model": {"name": "default"}, "method": {"name": "full"},
                        "data": {**data, "augment": augment}, "output": str(tmp_path / "run")})


def test_ner_copies_keep_one_tag_per_word_and_every_entity(tmp_path):
    data = {name: write_conll(tmp_path / f"{name}.conll", 40, seed) for name, seed in (("train", 1), ("validation", 2))}
    config = _config(tmp_path, "ner", data, {"typos": 0.2, "swap": 0.3, "delete": 0.3, "copies": 2})
    task = build_task(config)
    train = read_splits(task, config.data, seed=0)["train"]
    augmented = augment_split(task, train, config.data.augment, seed=0)
    assert 40 < len(augmented) <= 120 and augmented.frame.iloc[:40]["tokens"].tolist() == train.frame["tokens"].tolist()
    added = augmented.frame.iloc[40:]
    for tokens, tags, row in zip(added["tokens"], added["tags"], added["row"]):
        source = train.frame[train.frame["row"] == row].iloc[0]
        entities = [(len(w), t) for w, t in zip(source["tokens"], source["tags"]) if t != "O"]
        # entity words are never moved or dropped; a typo may change a letter of one, never its length
        assert len(tokens) == len(tags) and [(len(w), t) for w, t in zip(tokens, tags) if t != "O"] == entities
    again = augment_split(task, train, config.data.augment, seed=0)
    assert again.frame["tokens"].tolist() == augmented.frame["tokens"].tolist()  # seeded
    assert augment_split(task, train, config.data.augment, seed=1).frame["tokens"].tolist() != \
        augmented.frame["tokens"].tolist()


def test_augment_is_recorded_in_the_config_and_checked(tmp_path):
    config = _config(tmp_path, "classification", {"train": "x.csv"}, {"delete": 0.1})
    assert "augment:" in dump_config(config) and config.data.augment.delete == 0.1
    with pytest.raises(ConfigError, match="typo"):
        _config(tmp_path, "classification", {"train": "x.csv"}, {"typo": 0.1})
    with pytest.raises(ConfigError):
        _config(tmp_path, "classification", {"train": "x.csv"}, {"swap": 1.5})


def test_synonyms_without_wordnet_say_which_package_installs_it(tmp_path, monkeypatch, sentiment_files):
    monkeypatch.setenv("FINEGRAIN_WORDNET", str(tmp_path))
    config = _config(tmp_path, "classification", {"train": str(sentiment_files["train"])}, {"synonyms": 0.1})
    task = build_task(config)
    train = read_splits(task, config.data, seed=0)["train"]
    with pytest.raises(ConfigError, match="wordnet-base"):
        augment_split(task, train, AugmentConfig(synonyms=0.1), seed=0)
    with pytest.raises(ConfigError, match="has no tags"):
        augment_split(task, train, AugmentConfig(entity_swap=0.5), seed=0)


@pytest.mark.skipif(not wordnet.wordnet_available(), reason="WordNet is not installed (apt-get install wordnet-base)")
def test_text_copies_use_synonyms_and_keep_their_label(tmp_path, sentiment_files):
    config = _config(tmp_path, "classification", {"train": str(sentiment_files["train"])}, {"synonyms": 0.5})
    task = build_task(config)
    train = read_splits(task, config.data, seed=0)["train"]
    augmented = augment_split(task, train, config.data.augment, seed=0)
    added = augmented.frame.iloc[len(train):]
    assert len(added) > 0 and set(added["text"]).isdisjoint(set(train.frame["text"]))
    by_row = dict(zip(train.frame["row"], train.frame["label"]))
    assert all(by_row[row] == label for row, label in zip(added["row"], added["label"]))
