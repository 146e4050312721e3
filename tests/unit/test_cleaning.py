"""Cleaning, grouping and splitting of built-in rows, on tiny in-memory frames (no packages needed)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from finegrain.data.cleaning import clean_pairs, clean_texts, group_split, normalize_text, pair_groups
from finegrain.data.minidata_sets import intents_from_matches
from finegrain.data.msra_ner import TEST_CHARACTERS, TEST_FIRST_SENTENCE, bmes_to_iob2, standard_split
from finegrain.errors import DataError


def test_normalize_text_removes_invisible_characters_and_collapses_whitespace():
    assert normalize_text("\x08开通\u200b 微粒贷\t\u3000吗\r\n") == "开通 微粒贷 吗"
    assert normalize_text("\ufeff朱姓宝宝起名") == "朱姓宝宝起名"
    assert normalize_text("a\xa0\xa0b") == "a b" and normalize_text(" \x00 ") == ""


def test_clean_texts_counts_normalised_empty_conflicting_and_duplicate_rows():
    rows = pd.DataFrame({"text": ["好 酒店", "好  酒店", "差", "差", "一般", "\u200b", "贵"],
                         "label": ["pos", "pos", "neg", "neg", "pos", "neg", "neg"]})
    rows.loc[len(rows)] = ["一般", "neg"]
    cleaned = clean_texts(rows)
    assert cleaned.to_dict("list") == {"text": ["好 酒店", "差", "贵"], "label": ["pos", "neg", "neg"]}
    assert cleaned.attrs["cleaning"] == {"read": 8, "normalized": 2, "empty_dropped": 1, "conflicting_dropped": 2,
                                         "conflicting_keys": 1, "duplicates_dropped": 2, "kept": 3}


def test_clean_pairs_treats_swapped_pairs_as_the_same_pair():
    rows = pd.DataFrame({
        "text": ["怎么开通", "能开通吗", "利息多少", "几点到账", "利息多少 ", "#NAME?", "还款"],
        "text_pair": ["能开通吗", "怎么开通", "怎么计息", "何时到账", "怎么计息", "怎么还", " "],
        "label": [1, 1, 1, 0, 0, 1, 0],
    })
    cleaned = clean_pairs(rows, lost=frozenset({"#NAME?"}))
    # the swapped copy of the first pair is a duplicate; '利息多少 ' is '利息多少' with another label
    assert cleaned.to_dict("list") == {"text": ["怎么开通", "几点到账"], "text_pair": ["能开通吗", "何时到账"],
                                       "label": ["1", "0"]}
    assert cleaned.attrs["cleaning"] == {"read": 7, "normalized": 2, "unusable_dropped": 2, "conflicting_dropped": 2,
                                         "conflicting_keys": 1, "duplicates_dropped": 1, "kept": 2}


def test_pair_groups_link_questions_through_pairs_and_split_oversized_groups_by_first_text():
    rows = pd.DataFrame({"text": ["a", "b", "x", "p", "p", "q"], "text_pair": ["b", "c", "y", "r", "s", "r"]})
    groups = pair_groups(rows, max_share=0.5)
    assert groups[0] == groups[1] and groups[2] not in {groups[0], groups[3]}
    assert groups[3] == groups[4] == groups[5]  # p-r, p-s, q-r: one component of 3 pairs, at the limit
    by_first = pair_groups(rows, max_share=0.4)  # 3 of 6 pairs is too many: grouped by first text
    assert by_first[3] == by_first[4] != by_first[5] and by_first[0] == by_first[1]


def _pairs(n: int) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    firsts = [f"q{rng.integers(n // 3)}" for _ in range(n)]
    return pd.DataFrame({"text": firsts, "text_pair": [f"r{i}" for i in range(n)], "label": ["0", "1"] * (n // 2)})


def test_group_split_keeps_each_group_on_one_side_in_source_order():
    rows = _pairs(600)
    groups = rows["text"].to_numpy()
    splits = group_split(rows, groups, seed=7)
    assert list(splits) == ["train", "validation", "test"]
    sides = [set(frame["text"]) for frame in splits.values()]
    assert not (sides[0] & sides[1] or sides[0] & sides[2] or sides[1] & sides[2])
    sizes = [len(frame) for frame in splits.values()]
    assert sum(sizes) == 600 and abs(sizes[0] - 480) <= 10 and abs(sizes[1] - 60) <= 10
    for frame in splits.values():
        assert list(frame.columns) == ["text", "text_pair", "label", "row"]
        assert frame["row"].tolist() == list(range(1, len(frame) + 1))
        order = frame["text_pair"].str[1:].astype(int)
        assert order.is_monotonic_increasing  # source order kept within a split
    again = group_split(rows, groups, seed=7)
    assert all(again[name].equals(splits[name]) for name in splits)
    assert not group_split(rows, groups, seed=8)["test"].equals(splits["test"])


def test_intents_from_matches_keeps_one_row_per_matched_query():
    raw = pd.DataFrame({
        "label": [1, 0, 0, 0, 1, 1, 1],
        "s1": ["如何登录", "手续费", "如何登录", "手续费", "手续费", "如何登录", "手续费"],
        "s2": ["登不上", "登不上", "没匹配", "没匹配", "收费吗", "两个答案", "两个答案"],
    })
    intents = intents_from_matches(raw)
    assert intents.to_dict("list") == {"text": ["登不上", "收费吗"], "label": ["如何登录", "手续费"]}
    counts = intents.attrs["cleaning"]
    assert counts["pairs_read"] == 7 and counts["queries_without_match"] == 1
    assert counts["read"] == 4 and counts["conflicting_keys"] == 1 and counts["kept"] == 2


def test_bmes_tags_become_iob2_and_pieces_starting_inside_an_entity_are_counted():
    tags, repaired = bmes_to_iob2([["B-ORG", "M-ORG", "E-ORG", "S-PER", "O"], ["M-LOC", "E-LOC", "O"], ["E-PER"]])
    assert tags == [["B-ORG", "I-ORG", "I-ORG", "B-PER", "O"], ["B-LOC", "I-LOC", "O"], ["B-PER"]]
    assert repaired == 2


def _pieces(texts: list[str]) -> pd.DataFrame:
    return pd.DataFrame({"tokens": [list(text) for text in texts], "tags": [["O"] * len(text) for text in texts]})


def test_standard_split_starts_the_test_set_at_its_first_sentence():
    rest = "各" * (TEST_CHARACTERS - len(TEST_FIRST_SENTENCE))
    train, test = standard_split(_pieces(["训练句子", "另一句", TEST_FIRST_SENTENCE, rest]))
    assert len(train) == 2 and test["tokens"].map("".join).tolist() == [TEST_FIRST_SENTENCE, rest]


def test_standard_split_refuses_a_file_without_the_standard_test_set(monkeypatch):
    from finegrain.data import msra_ner

    monkeypatch.setattr(msra_ner, "_msra_path", lambda: "msra.txt")
    after = len(TEST_FIRST_SENTENCE) + 3
    with pytest.raises(DataError, match=f"found that sentence 1 time.*and {after} characters after it"):
        standard_split(_pieces(["训练句子", TEST_FIRST_SENTENCE, "四个字"]))
    with pytest.raises(DataError, match="found that sentence 0 time"):
        standard_split(_pieces(["训练句子"]))


def test_rows_with_labels_other_than_the_card_are_refused_with_the_cache_to_delete():
    from finegrain.data import minidata_sets

    pairs = pd.DataFrame({"text": ["a", "b"], "text_pair": ["c", "d"], "label": ["1", "yes"]})
    with pytest.raises(DataError, match=r"has labels \['1', 'yes'\]; expected 0, 1") as error:
        minidata_sets._pair_splits(pairs, minidata_sets.BQ)
    assert "bq-matching-*.parquet" in error.value.hint
    intents = pd.DataFrame({"text": ["q1", "q2"], "label": ["如何登录", "手续费"]})
    with pytest.raises(DataError, match="has labels .*; expected 300 intents"):
        minidata_sets._stratified_splits(intents, minidata_sets.FINANCE)
