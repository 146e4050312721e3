"""Occlusion and the faithfulness measures on a stand-in model whose probabilities are known by hand: the
probability of 'pos' is 0.2 plus 0.3 for each 'good' in the text, so every number below is computed on paper."""

from __future__ import annotations

import math

import numpy as np
import pytest

from finegrain.data.labels import LabelMap
from finegrain.explain import explain, faithfulness
from finegrain.explain.faithfulness import aopc, kendall, top_words
from finegrain.tasks.classification.task import ClassificationParams, ClassificationTask
from finegrain.training.predictor import Predictor


class CountsGood:
    """A logits source: log-probabilities of (neg, pos) from the number of 'good' words; records what it read."""

    runtime = "stand-in"

    def __init__(self):
        self.read: list[str] = []

    def logits(self, split, batch_size):
        texts = split.frame["text"].tolist()
        self.read.extend(texts)
        positive = [min(0.95, 0.2 + 0.3 * text.split().count("good")) for text in texts]
        return [{"example": i} for i in range(len(texts))], [np.log([1 - p, p]) for p in positive]


@pytest.fixture
def predictor() -> Predictor:
    task = ClassificationTask(ClassificationParams())
    return Predictor(None, None, task, LabelMap.from_values(["neg", "pos"]), CountsGood())


def test_top_words_rounds_up_and_breaks_ties_by_position():
    assert top_words([0.3, 0.0, 0.3], 1) == [0]  # 1% of 3 words: at least one, the earlier of the tie
    assert top_words([0.3, 0.0, 0.3], 50) == [0, 2]  # 1.5 rounds up to 2
    assert top_words([0.1, 0.5, 0.2, 0.4], 50) == [1, 3]


def test_aopc_is_the_mean_drop_and_kendall_is_undefined_for_one_word():
    assert aopc(0.8, [0.5, 0.2]) == pytest.approx(0.45)
    assert kendall([1.0, 2.0, 3.0], [3.0, 2.0, 1.0]) == pytest.approx(-1.0)
    assert kendall([1.0], [1.0]) is None and kendall([1.0, 1.0], [0.0, 2.0]) is None


def test_occlusion_scores_each_word_and_duplicates_survive(predictor):
    [explained] = explain(predictor, ["good day good"], method="occlusion")
    assert explained.words == ["good", "day", "good"] and explained.offsets == [[0, 4], [5, 8], [9, 13]]
    [target] = explained.targets
    assert target.target == "pos" and target.scores == pytest.approx([0.3, 0.0, 0.3])
    assert "day good" in predictor.source.read and "good day" in predictor.source.read  # deleted, spaces kept single


def test_a_text_of_one_erased_word_keeps_the_padding_token(predictor):
    [explained] = explain(predictor, ["good"], method="occlusion", target="pos")
    assert explained.targets[0].scores == pytest.approx([0.3]) and "[PAD]" in predictor.source.read


def test_faithfulness_matches_the_hand_computed_aopc(predictor):
    inputs = ["good day good"]
    explanations = explain(predictor, inputs, method="occlusion")
    table = faithfulness(predictor, inputs, explanations)
    row = table["rows"]["occlusion"]
    # erase the top 1/5/10/20% (one word: 0.8 -> 0.5) and the top 50% (two words: 0.8 -> 0.2)
    assert row["comprehensiveness_at"] == pytest.approx([0.3, 0.3, 0.3, 0.3, 0.6])
    assert row["comprehensiveness"] == pytest.approx(0.36)
    # keep only them: "good" (0.5) four times, then "good good" (0.8)
    assert row["sufficiency_at"] == pytest.approx([0.3, 0.3, 0.3, 0.3, 0.0])
    assert row["sufficiency"] == pytest.approx(0.24)
    assert row["kendall_tau"] == pytest.approx(1.0)  # occlusion is leave-one-out itself
    assert table["erasure"] == "delete" and table["n"] == 1 and set(table["rows"]) == {"occlusion", "random"}
    assert explanations[0].targets[0].faithfulness["comprehensiveness"] == pytest.approx(0.36)


def test_the_most_and_least_faithful_explanations_are_named(predictor):
    inputs = ["good day good", "day good day day", "good"]
    explanations = explain(predictor, inputs, method="occlusion", target="pos")
    examples = faithfulness(predictor, inputs, explanations, target="pos")["examples"]
    # comprehensiveness: 0.36 (above); "day good day day": 0.3 at every level; "good": 0.3
    assert [item["input"] for item in examples["most"]] == [0, 1, 2]
    assert examples["least"][0]["comprehensiveness"] == pytest.approx(0.3)
    assert examples["most"][0] == {"input": 0, "target": "pos", "comprehensiveness": pytest.approx(0.36)}


def test_random_baseline_and_mask_erasure(predictor):
    inputs = ["good day day day day day good"]
    explanations = explain(predictor, inputs, method="occlusion", erasure="mask")
    table = faithfulness(predictor, inputs, explanations, erasure="mask", seed=3)
    assert table["erasure"] == "mask" and any("[MASK]" in text for text in predictor.source.read)
    ours, random = table["rows"]["occlusion"], table["rows"]["random"]
    assert ours["comprehensiveness"] >= random["comprehensiveness"]
    assert not math.isclose(random["comprehensiveness"], ours["comprehensiveness"])
    assert random["seconds"] is None and ours["seconds"] is not None
