"""Entity metrics: strict and conlleval-like modes, per type, JSON-serialisable."""

from __future__ import annotations

import json

import pytest

from finegrain.tasks.ner.metrics import entity_metrics


def test_perfect_prediction():
    gold = [["B-PER", "I-PER", "O", "B-LOC"], ["O", "B-ORG"]]
    result = entity_metrics(gold, gold, "IOB2")
    assert result["entity_f1"] == 1.0 and result["token_accuracy"] == 1.0 and result["n"] == 2
    assert result["strict"]["per_type"]["PER"] == {"precision": 1.0, "recall": 1.0, "f1": 1.0, "support": 1}


def test_strict_and_default_modes_differ_on_invalid_sequences():
    gold = [["B-PER", "I-PER", "O"]]
    pred = [["I-PER", "I-PER", "O"]]  # invalid in IOB2: conlleval accepts it, strict does not
    result = entity_metrics(gold, pred, "IOB2")
    assert result["default"]["f1"] == 1.0
    assert result["strict"]["f1"] == 0.0
    assert result["entity_f1"] == result["strict"]["f1"] and result["headline"] == "strict"
    assert result["token_accuracy"] == pytest.approx(2 / 3)


def test_micro_macro_and_per_type():
    gold = [["B-PER", "O", "B-LOC", "O", "B-LOC"]]
    pred = [["B-PER", "O", "B-LOC", "O", "O"]]
    result = entity_metrics(gold, pred, "IOB2")
    assert result["entity_precision"] == 1.0
    assert result["entity_recall"] == pytest.approx(2 / 3)
    assert result["entity_f1"] == pytest.approx(0.8)
    assert result["macro_f1"] == pytest.approx((1.0 + 2 / 3) / 2)
    assert result["strict"]["per_type"]["LOC"]["support"] == 2
    assert result["strict"]["support"] == 3
    json.dumps(result)


def test_bilou_tags_scored_as_bioes():
    gold = [["B-PER", "L-PER", "U-LOC"]]
    pred = [["B-PER", "E-PER", "O"]]
    result = entity_metrics(gold, pred, "BILOU")
    assert result["entity_precision"] == 1.0 and result["entity_recall"] == 0.5


def test_no_entities_anywhere_gives_zeros_not_errors():
    result = entity_metrics([["O", "O"]], [["O", "O"]], "IOB2")
    assert result["entity_f1"] == 0.0 and result["token_accuracy"] == 1.0
    assert result["strict"]["per_type"] == {}


def test_shape_mismatch_is_rejected():
    with pytest.raises(ValueError, match="sentence 0: 2 gold tags but 1 predicted"):
        entity_metrics([["O", "O"]], [["O"]], "IOB2")
