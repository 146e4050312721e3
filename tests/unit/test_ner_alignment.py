"""First-sub-token alignment and overlapping windows: every word labelled once and read back."""

from __future__ import annotations

import numpy as np
import pytest
from transformers import AutoTokenizer, BertTokenizer

from finegrain.errors import ConfigError
from finegrain.tasks.ner.alignment import IGNORE_INDEX, encode_words, merge_windows

N_TAGS = 5


@pytest.fixture(scope="module")
def wordpiece(tmp_path_factory):
    """A WordPiece tokenizer that splits unknown words into letters, so words have several sub-tokens."""
    letters = "abcdefghijklmnopqrstuvwxyz"
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "the", "movie", "."]
    vocab += list(letters) + [f"##{c}" for c in letters]
    path = tmp_path_factory.mktemp("wordpiece")
    BertTokenizer(vocab={word: i for i, word in enumerate(vocab)}).save_pretrained(path)
    return AutoTokenizer.from_pretrained(path)


@pytest.fixture(params=["wordpiece", "tiny_model"])
def tokenizer(request, wordpiece, tiny_model_dir):
    return wordpiece if request.param == "wordpiece" else AutoTokenizer.from_pretrained(tiny_model_dir)


def one_hot_logits(windows):
    """Logits that predict each window's label where it has one, and noise elsewhere."""
    rng = np.random.default_rng(0)
    out = []
    for window in windows:
        logits = rng.normal(size=(len(window["input_ids"]) + 3, N_TAGS)).astype(np.float32)  # +3: padding rows
        for position, label in enumerate(window["labels"]):
            if label != IGNORE_INDEX:
                logits[position] = np.eye(N_TAGS)[label] * 10
        out.append(logits)
    return out


def round_trip(tokenizer, words, tags, max_length, stride):
    windows = encode_words(tokenizer, words, tags, max_length, stride)
    merged = merge_windows(windows, one_hot_logits(windows), len(words))
    return windows, merged.argmax(axis=1).tolist()


def test_labels_on_first_sub_token_only(wordpiece):
    (window,) = encode_words(wordpiece, ["the", "hello", "movie"], [1, 2, 3], 32, 4)
    assert wordpiece.convert_ids_to_tokens(window["input_ids"]) == [
        "[CLS]", "the", "h", "##e", "##l", "##l", "##o", "movie", "[SEP]",
    ]
    assert window["labels"] == [-100, 1, 2, -100, -100, -100, -100, 3, -100]
    assert window["word_ids"] == [None, 0, 1, 1, 1, 1, 1, 2, None]
    assert window["window"] == 0


def test_round_trip_short_sentence(tokenizer):
    words = ["the", "movie", "was", "hello", "."]
    tags = [0, 1, 2, 3, 4]
    windows, predicted = round_trip(tokenizer, words, tags, 64, 8)
    assert len(windows) == 1 and predicted == tags


def test_long_sentence_split_into_windows_and_merged(tokenizer):
    rng = np.random.default_rng(1)
    vocabulary = ["the", "movie", "abc", "z", "hello", "."]
    words = [vocabulary[i] for i in rng.integers(0, len(vocabulary), 300)]
    tags = rng.integers(0, N_TAGS, 300).tolist()
    windows, predicted = round_trip(tokenizer, words, tags, 32, 8)
    assert len(windows) > 10
    assert all(len(window["input_ids"]) <= 32 for window in windows)
    assert predicted == tags
    owners = [w for window in windows for w, owned in zip(window["word_ids"], window["owned"]) if owned]
    assert sorted(owners) == list(range(300))  # every word scored by exactly one window
    labelled = sum(label != IGNORE_INDEX for window in windows for label in window["labels"])
    assert labelled == 300


def test_windows_overlap_and_owner_is_far_from_cut_edges(wordpiece):
    words = ["the"] * 40
    windows = encode_words(wordpiece, words, None, 12, 4)  # 10 words per window, 4 overlap
    first, second = windows[0], windows[1]
    shared = set(w for w in first["word_ids"] if w is not None) & set(w for w in second["word_ids"] if w is not None)
    assert shared == {6, 7, 8, 9}
    owned_first = {w for w, owned in zip(first["word_ids"], first["owned"]) if owned}
    assert {6, 7} <= owned_first and not {8, 9} & owned_first
    assert all(label == IGNORE_INDEX for window in windows for label in window["labels"])


def test_word_longer_than_window_is_truncated_not_dropped(wordpiece):
    words = ["the", "a" + "b" * 100, "movie"]
    windows, predicted = round_trip(wordpiece, words, [1, 2, 3], 16, 2)
    assert predicted == [1, 2, 3]
    assert all(len(window["input_ids"]) <= 16 for window in windows)


def test_words_without_sub_tokens_get_unk(wordpiece):
    words = ["the", "\u200b", "", "\x07", "movie"]
    (window,) = encode_words(wordpiece, words, [0, 1, 2, 3, 4], 32, 4)
    unk = wordpiece.unk_token_id
    assert window["input_ids"][2:5] == [unk, unk, unk]
    assert merge_windows([window], one_hot_logits([window]), 5).argmax(axis=1).tolist() == [0, 1, 2, 3, 4]


def test_empty_sentence_gives_one_window(wordpiece):
    (window,) = encode_words(wordpiece, [], [], 16, 2)
    assert window["input_ids"] == [wordpiece.cls_token_id, wordpiece.sep_token_id]
    assert merge_windows([window], one_hot_logits([window]), 0).shape == (0, N_TAGS)


@pytest.mark.parametrize(("max_length", "stride"), [(2, 0), (16, 14), (16, -1)])
def test_bad_sizes_are_config_errors(wordpiece, max_length, stride):
    with pytest.raises(ConfigError, match="max_length|stride"):
        encode_words(wordpiece, ["the"], None, max_length, stride)


def test_mismatched_tags_and_logits_are_rejected(wordpiece):
    with pytest.raises(ValueError, match="2 words but 1 tag ids"):
        encode_words(wordpiece, ["the", "movie"], [0], 16, 2)
    windows = encode_words(wordpiece, ["the"], [0], 16, 2)
    with pytest.raises(ValueError, match="1 windows but 0"):
        merge_windows(windows, [], 1)
