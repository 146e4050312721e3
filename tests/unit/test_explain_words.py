"""Words for explanations: found by character offsets (a repeated word is two words), erased without stray
spaces, and mapped from sub-tokens through offsets, in windows for a text longer than the model's maximum."""

from __future__ import annotations

import pytest
from transformers import AutoTokenizer

from finegrain.tasks.explaining import encode_texts, erase_text, text_words


@pytest.fixture(scope="module")
def tokenizer(tiny_model_dir):
    return AutoTokenizer.from_pretrained(tiny_model_dir)


def test_words_keep_offsets_duplicates_and_cjk_characters():
    words = text_words("good, good 北京 don't", "text")
    assert [(w.text, w.start, w.end) for w in words] == [
        ("good", 0, 4), (",", 4, 5), ("good", 6, 10), ("北", 11, 12), ("京", 12, 13), ("don't", 14, 19)]


def test_erasing_deletes_or_replaces_words_by_position():
    text = "good day good"
    words = text_words(text, "text")
    assert erase_text(text, words, {2: None}, 0) == "good day"
    assert erase_text(text, words, {0: None}, 0) == "day good"
    assert erase_text(text, words, {0: "[MASK]", 2: "[MASK]"}, 0) == "[MASK] day [MASK]"
    assert erase_text(text, words, {1: None, 4: None}, 1) == "day good"  # words of a second text start at 1


def test_sub_tokens_map_to_their_word(tokenizer):
    text = "good goodx good"  # 'goodx' is two sub-tokens (good ##x)
    words = text_words(text, "text")
    [feature] = encode_texts(tokenizer, [text], words, 32, example=0)
    tokens = tokenizer.convert_ids_to_tokens(feature["input_ids"])
    assert tokens == ["[CLS]", "good", "good", "##x", "good", "[SEP]"]
    assert feature["word_ids"] == [None, 0, 1, 1, 2, None] and feature["example"] == 0


def test_a_long_text_is_read_in_windows_of_whole_words(tokenizer):
    text = " ".join(["good goodx"] * 12)  # 36 word pieces
    words = text_words(text, "text")
    features = encode_texts(tokenizer, [text], words, 10, example=3)
    assert len(features) >= 4 and all(len(f["input_ids"]) <= 10 for f in features)
    seen = [w for f in features for w in f["word_ids"] if w is not None]
    assert sorted(set(seen)) == list(range(len(words)))  # every word read, in exactly one window
    assert all(f["example"] == 3 and f["input_ids"][0] == tokenizer.cls_token_id for f in features)


def test_a_pair_maps_each_text_to_its_own_words(tokenizer):
    texts = ["good movie", "good day"]
    words = text_words(texts[0], "text") + text_words(texts[1], "text_pair")
    [feature] = encode_texts(tokenizer, texts, words, 32, example=0)
    assert feature["word_ids"] == [None, 0, 1, None, 2, 3, None]
    assert feature["token_type_ids"] == [0, 0, 0, 0, 1, 1, 1]
