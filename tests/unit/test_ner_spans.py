"""Raw text -> words with offsets -> entities whose offsets point back into the text."""

from __future__ import annotations

import pytest

from finegrain.tasks.ner.spans import is_cjk, split_words, spans_from_tags


def words_of(text, **kwargs):
    return [word for word, _, _ in split_words(text, **kwargs)]


def test_offsets_index_the_original_text():
    text = "  Ada Lovelace\tmet (Charles Babbage) in  London, U.S. 北京欢迎你！ "
    for word, start, end in split_words(text):
        assert text[start:end] == word


def test_english_words_with_edge_punctuation_split():
    assert words_of("Ada met (Charles) in London, U.S. today!") == [
        "Ada", "met", "(", "Charles", ")", "in", "London", ",", "U.S.", "today", "!",
    ]
    assert words_of("@user don't #tag") == ["@user", "don't", "#tag"]
    assert words_of("London, now", split_punctuation=False) == ["London,", "now"]


def test_cjk_characters_are_single_tokens_in_mixed_text():
    assert words_of("我在Google工作。") == ["我", "在", "Google", "工", "作", "。"]
    assert words_of("東京タワーへ") == ["東", "京", "タ", "ワ", "ー", "へ"]
    assert words_of("서울 시청") == ["서울", "시청"]  # Hangul is space-separated
    assert is_cjk("中") and is_cjk("カ") and not is_cjk("a")


def test_chinese_language_makes_every_character_a_token():
    assert words_of("iPhone 12发布", language="zh") == ["i", "P", "h", "o", "n", "e", "1", "2", "发", "布"]
    assert words_of("iPhone 12发布", language="zh-Hans")[:2] == ["i", "P"]


def test_english_entities_with_character_offsets():
    text = "Yesterday Ada  Lovelace visited New York."
    words = split_words(text)
    tags = ["O", "B-PER", "I-PER", "O", "B-LOC", "I-LOC", "O"]
    scores = [0.9, 0.8, 0.6, 0.9, 1.0, 0.5, 0.9]
    entities = spans_from_tags(words, tags, scores, "IOB2", text=text)
    assert [(e["type"], e["text"]) for e in entities] == [("PER", "Ada  Lovelace"), ("LOC", "New York")]
    for entity in entities:
        assert text[entity["start"] : entity["end"]] == entity["text"]
    assert entities[0]["score"] == pytest.approx(0.7)
    assert entities[1]["score"] == pytest.approx(0.75)


def test_chinese_entities_with_character_offsets():
    text = "张三在北京大学工作。"
    words = split_words(text)
    tags = ["B-PER", "I-PER", "O", "B-ORG", "I-ORG", "I-ORG", "I-ORG", "O", "O", "O"]
    entities = spans_from_tags(words, tags, [1.0] * len(words), "BIO")
    assert [(e["type"], e["text"], e["start"], e["end"]) for e in entities] == [
        ("PER", "张三", 0, 2), ("ORG", "北京大学", 3, 7),
    ]
    for entity in entities:
        assert text[entity["start"] : entity["end"]] == entity["text"]


def test_entity_text_without_original_text_renders_gaps_as_spaces():
    words = split_words("New   York")
    (entity,) = spans_from_tags(words, ["B-LOC", "I-LOC"], [1.0, 1.0], "IOB2")
    assert entity["text"] == "New   York" and (entity["start"], entity["end"]) == (0, 10)


def test_length_mismatch_is_rejected():
    with pytest.raises(ValueError, match="2 words, 1 tags"):
        spans_from_tags(split_words("a b"), ["O"], [1.0, 1.0], "IOB2")
