"""End to end with the real embedded default model on a few hundred examples (marked: slower)."""

from __future__ import annotations

import pytest

import finegrain

pytestmark = pytest.mark.integration


def test_default_model_learns_bbc_topics_from_a_few_hundred_examples(tmp_path):
    result = finegrain.train({
        "data": {"train": "bbc-news", "max_train_examples": 300},
        "train": {"epochs": 2, "batch_size": 16, "lr": 1e-4},
        "output": str(tmp_path / "bbc"),
    })
    assert result.metrics["test"]["accuracy"] > 0.85
    predictor = finegrain.load(result.run_dir)
    label = predictor.predict(["The striker scored twice as the club won the league title."])[0]["label"]
    assert label == "sports"
