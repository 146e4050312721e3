"""Entity error analysis on hand-made gold/pred pairs with known counts of each kind."""

from __future__ import annotations

import json

import pytest

from finegrain.tasks.ner.errors_analysis import analyse_errors

TOKENS = [
    ["John", "Smith", "lives", "in", "New", "York", "City"],
    ["Apple", "hired", "Tim", "in", "Paris"],
    ["Bob", "met", "Acme", "Corp", "today"],
]
GOLD = [
    ["B-PER", "I-PER", "O", "O", "B-LOC", "I-LOC", "I-LOC"],
    ["B-ORG", "O", "B-PER", "O", "B-LOC"],
    ["B-PER", "O", "B-ORG", "I-ORG", "O"],
]
PRED = [
    ["B-PER", "O", "O", "O", "B-LOC", "I-LOC", "B-LOC"],  # boundary (John Smith), 2 boundary (New York City)
    ["B-LOC", "O", "O", "B-PER", "B-LOC"],  # type (Apple), missed (Tim), spurious (in), correct (Paris)
    ["B-PER", "O", "B-PER", "O", "B-ORG"],  # correct (Bob), boundary_type (Acme Corp/Acme), spurious (today)
]


@pytest.fixture(scope="module")
def report():
    return analyse_errors(GOLD, PRED, "IOB2", tokens=TOKENS, k=3)


def test_counts_per_kind(report):
    assert report["counts"] == {"boundary": 3, "type": 1, "boundary_type": 1, "missed": 1, "spurious": 2}
    assert (report["n_gold"], report["n_pred"], report["n_correct"], report["n_errors"]) == (7, 9, 2, 8)


def test_counts_per_type(report):
    assert report["by_type"]["PER"] == {"boundary": 1, "type": 0, "boundary_type": 0, "missed": 1, "spurious": 1}
    assert report["by_type"]["LOC"]["boundary"] == 2
    assert report["by_type"]["ORG"] == {"boundary": 0, "type": 1, "boundary_type": 1, "missed": 0, "spurious": 1}


def test_confusion_matrix(report):
    labels, matrix = report["confusion"]["labels"], report["confusion"]["matrix"]
    assert labels == ["LOC", "ORG", "PER", "none"]
    cell = {(g, p): matrix[i][j] for i, g in enumerate(labels) for j, p in enumerate(labels)}
    assert cell[("LOC", "LOC")] == 3  # Paris exact + two boundary pieces of New York City
    assert cell[("ORG", "LOC")] == 1 and cell[("ORG", "PER")] == 1
    assert cell[("PER", "PER")] == 2 and cell[("PER", "none")] == 1
    assert cell[("none", "PER")] == 1 and cell[("none", "ORG")] == 1
    assert sum(map(sum, matrix)) == report["n_correct"] + report["n_errors"] == 10


def test_patterns_and_examples(report):
    top = report["patterns"][0]
    assert len(report["patterns"]) == 3 and top["count"] == 1
    kinds = {pattern["kind"] for pattern in report["patterns"]}
    assert kinds <= {"boundary", "type", "boundary_type", "missed", "spurious"}
    missed = next(e for e in report["examples"] if e["kind"] == "missed")
    assert missed["gold"] == {"type": "PER", "start": 2, "end": 3, "text": "Tim"} and missed["pred"] is None
    assert missed["text"] == "Apple hired Tim in Paris"
    assert len(report["examples"]) == 8
    json.dumps(report)


def test_repeated_pattern_is_counted_and_ranked_first():
    gold = [["B-PER", "I-PER"]] * 3 + [["B-LOC"]]
    pred = [["B-PER", "O"]] * 3 + [["O"]]
    tokens = [["Ada", "Lovelace"]] * 3 + [["Rome"]]
    report = analyse_errors(gold, pred, "IOB2", tokens=tokens, k=1)
    (top,) = report["patterns"]
    assert top["kind"] == "boundary" and top["count"] == 3
    assert top["gold"]["text"] == "Ada Lovelace" and top["pred"]["text"] == "Ada"
    assert top["example"] == {"sentence": 0, "text": "Ada Lovelace"}
    assert [e["kind"] for e in report["examples"]] == ["boundary", "missed"]  # k per kind


def test_without_tokens_patterns_use_types():
    report = analyse_errors([["B-PER"], ["B-PER"]], [["B-LOC"], ["B-LOC"]], "IOB2")
    assert report["patterns"][0]["count"] == 2 and "text" not in report["patterns"][0]["gold"]


def test_perfect_prediction_has_no_errors():
    report = analyse_errors(GOLD, GOLD, "IOB2")
    assert report["n_errors"] == 0 and report["n_correct"] == 7 and report["patterns"] == []


def test_sentence_count_mismatch():
    with pytest.raises(ValueError, match="sentence counts differ"):
        analyse_errors(GOLD, PRED[:2], "IOB2")
