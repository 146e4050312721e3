"""Word tags from probabilities: the most probable IOB2-valid sequence (Viterbi), checked by brute force."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from finegrain.tasks.ner.predictions import best_valid_sequence, sentence_tags

NAMES = ("B-LOC", "B-PER", "I-LOC", "I-PER", "O")


def _valid(tags: list[str]) -> bool:
    previous = "O"
    for tag in tags:
        if tag.startswith("I-") and previous[2:] != tag[2:]:
            return False
        previous = tag
    return True


@pytest.mark.parametrize("seed", range(20))
def test_viterbi_finds_the_most_probable_valid_sequence(seed):
    rng = np.random.default_rng(seed)
    probs = rng.dirichlet(np.ones(len(NAMES)) * 0.5, size=4)
    best = max((path for path in itertools.product(range(len(NAMES)), repeat=4)
                if _valid([NAMES[i] for i in path])),
               key=lambda path: np.prod(probs[np.arange(4), list(path)]))
    assert best_valid_sequence(probs, NAMES) == list(best)


def test_a_valid_argmax_is_kept_and_a_stray_inside_tag_is_not():
    valid = np.array([[0.1, 0.7, 0.1, 0.05, 0.05], [0.05, 0.05, 0.05, 0.8, 0.05], [0.1, 0.1, 0.1, 0.1, 0.6]])
    assert [NAMES[i] for i in best_valid_sequence(valid, NAMES)] == ["B-PER", "I-PER", "O"]
    stray = np.array([[0.05, 0.05, 0.05, 0.05, 0.8], [0.3, 0.02, 0.6, 0.02, 0.06]])  # O, I-LOC: invalid
    assert [NAMES[i] for i in best_valid_sequence(stray, NAMES)] == ["O", "B-LOC"]


def test_sentence_tags_scores_are_the_chosen_tags_probabilities():
    window = {"word_ids": [None, 0, 1, None], "owned": [False, True, True, False]}
    logits = np.array([[0, 0, 0, 0, 0], [0, 0, 0, 0, 6], [2, 0, 5, 0, 0], [0, 0, 0, 0, 0]], dtype=np.float32)
    tags, scores = sentence_tags([window], [logits], 2, NAMES)
    assert tags == ["O", "B-LOC"]
    assert scores[1] == pytest.approx(np.exp(2) / (np.exp(2) + np.exp(5) + 3), abs=1e-6)
