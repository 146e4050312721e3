"""Tagging schemes: reading, writing, converting, repairing and detecting."""

from __future__ import annotations

import pytest

from finegrain.errors import DataError, UnknownNameError
from finegrain.tasks.ner.schemes import (
    SCHEMES, convert, detect_scheme, from_spans, normalize_scheme, repair, repair_all, to_spans, validate_tag,
)

SPANS = [("PER", 0, 2), ("PER", 2, 3), ("LOC", 4, 5), ("ORG", 5, 8)]
WRITTEN = {
    "IOB1": ["I-PER", "I-PER", "B-PER", "O", "I-LOC", "I-ORG", "I-ORG", "I-ORG"],
    "IOB2": ["B-PER", "I-PER", "B-PER", "O", "B-LOC", "B-ORG", "I-ORG", "I-ORG"],
    "IOE1": ["I-PER", "E-PER", "I-PER", "O", "I-LOC", "I-ORG", "I-ORG", "I-ORG"],
    "IOE2": ["I-PER", "E-PER", "E-PER", "O", "E-LOC", "I-ORG", "I-ORG", "E-ORG"],
    "BIOES": ["B-PER", "E-PER", "S-PER", "O", "S-LOC", "B-ORG", "I-ORG", "E-ORG"],
}


@pytest.mark.parametrize("scheme", SCHEMES)
def test_spans_round_trip_in_every_scheme(scheme):
    assert from_spans(SPANS, 8, scheme) == WRITTEN[scheme]
    assert to_spans(WRITTEN[scheme], scheme) == SPANS


@pytest.mark.parametrize("source", SCHEMES)
@pytest.mark.parametrize("target", SCHEMES)
def test_convert_between_all_schemes(source, target):
    assert convert(WRITTEN[source], source, target) == WRITTEN[target]


def test_bilou_letters_read_as_bioes():
    tags = ["B-PER", "L-PER", "U-LOC", "O"]
    assert to_spans(tags, "BILOU") == [("PER", 0, 2), ("LOC", 2, 3)]
    fixed, count = repair(tags, "BILOU")
    assert fixed == ["B-PER", "E-PER", "S-LOC", "O"] and count == 0


def test_types_may_contain_hyphens():
    assert to_spans(["B-geo-loc", "I-geo-loc"], "BIO") == [("geo-loc", 0, 2)]


def test_repair_iob2_orphan_and_type_switch():
    fixed, count = repair(["O", "I-PER", "I-PER", "B-LOC", "I-ORG"], "IOB2")
    assert fixed == ["O", "B-PER", "I-PER", "B-LOC", "B-ORG"]
    assert count == 2


def test_repair_bioes_invalid_transitions():
    fixed, count = repair(["B-PER", "O", "I-LOC", "I-LOC", "E-ORG"], "BIOES")
    assert fixed == ["S-PER", "O", "B-LOC", "E-LOC", "S-ORG"]
    assert count == 4


def test_repair_leaves_valid_tags_alone_and_repair_all_counts():
    fixed, count = repair_all([WRITTEN["IOB2"], ["I-X"], ["O"]], "IOB2")
    assert fixed == [WRITTEN["IOB2"], ["B-X"], ["O"]]
    assert count == 1


@pytest.mark.parametrize("tag", ["X-PER", "B_PER", "B-", "PER", "E-PER"])
def test_validate_tag_rejects_tags_outside_the_scheme(tag):
    with pytest.raises(DataError) as caught:
        validate_tag(tag, "IOB2", where="train.conll:3")
    assert "B-, I-" in str(caught.value) and "train.conll:3" in str(caught.value)


def test_to_spans_rejects_invalid_tag():
    with pytest.raises(DataError, match="S-PER"):
        to_spans(["S-PER"], "IOB2")


def test_unknown_scheme_lists_choices():
    assert normalize_scheme("bio") == "IOB2"
    with pytest.raises(UnknownNameError, match="IOB2, IOE1"):
        normalize_scheme("BIOX")


@pytest.mark.parametrize("scheme", SCHEMES)
def test_detect_scheme_recognises_each_scheme(scheme):
    assert detect_scheme([WRITTEN[scheme], ["O", "O"]]) == scheme


def test_detect_scheme_edge_cases():
    assert detect_scheme([["B-PER", "L-PER", "U-LOC"]]) == "BIOES"
    assert detect_scheme([["O", "O"]]) == "IOB2"
    assert detect_scheme([["I-PER", "O"]]) == "IOB1"
    assert detect_scheme([["B-PER", "O", "I-LOC"]]) == "IOB2"  # IOB2 with one error to repair
    with pytest.raises(DataError, match="B_PER"):
        detect_scheme([["O", "B_PER"]])


def test_from_spans_rejects_overlapping_spans():
    with pytest.raises(ValueError, match="overlaps"):
        from_spans([("A", 0, 2), ("B", 1, 3)], 4, "IOB2")
