"""symspell-context: symspellpy's candidates reranked by weights fitted on the training pairs."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("symspellpy")

from finegrain.methods.estimators.base import EstimatorContext  # noqa: E402
from finegrain.methods.estimators.spelling_context import (  # noqa: E402
    CONTEXT, FEATURES, PRIOR, SymSpellContext, SymSpellContextParams, _fit_weights)


def _context(seed: int = 0) -> EstimatorContext:
    return EstimatorContext(model_path=None, seed=seed, load_tokenizer=None, load_encoder=None, collate=None,
                            embed=None)


def test_weights_learn_what_picks_the_right_candidate_and_stay_at_the_prior_without_data():
    assert _fit_weights([], [], 1.0, True).tolist() == list(PRIOR)
    rng = np.random.default_rng(0)
    rows, answers = [], []
    for _ in range(300):  # the right candidate is always the one with "same first letter", often the rarer one
        row = rng.normal(size=(4, len(FEATURES)))
        row[:, 0] = 1.0  # same distance everywhere
        row[:, 7] = 0.0
        right = int(rng.integers(4))
        row[right, 7] = 1.0
        rows.append(row.tolist())
        answers.append(right)
    weights = _fit_weights(rows, answers, 1.0, True)
    assert weights[7] > 3 and abs(weights[1]) < 1  # frequency's prior weight 1 unlearnt: it was noise here
    no_context = _fit_weights(rows, answers, 1.0, False)
    assert all(no_context[i] == 0 for i in CONTEXT) and no_context[7] > 3


def test_training_words_are_left_alone_and_misspellings_reranked():
    sources = ["Jowell said she would beleive it.", "The reciept was lost ."] * 3
    targets = ["Jowell said she would believe it.", "The receipt was lost ."] * 3
    method = SymSpellContext()
    before = method.log_probs(["Jowell spoke ."], None)[0]
    assert before[0][1] != ""  # unfitted, a name the dictionary lacks is "corrected" (to Powell, Lowell, ...)
    stats = method.fit(sources, np.array(targets, dtype=object), _context())
    assert method.fitted_words == 6 and stats.trainable == len(FEATURES)
    answers = method.log_probs(["Jowell spoke .", "I beleive the reciept ."], None)
    assert [row[1] for row in answers[0]] == ["", "", ""]  # a word of the training targets: known
    assert [row[1] for row in answers[1]] == ["", "believe", "", "receipt", ""]
    for rows in answers:
        for score, correction, probability in rows:
            assert (correction == "") == (probability == 0.0) and 0.0 <= probability < 1.0 and score > -31


def test_the_fitted_state_round_trips(tmp_path):
    method = SymSpellContext(SymSpellContextParams(context=False))
    method.fit(["Teh cat sat on teh mat ."] * 4, np.array(["The cat sat on the mat ."] * 4, dtype=object), _context())
    method.save(tmp_path)
    again = SymSpellContext(SymSpellContextParams(context=False)).load(tmp_path, _context())
    texts = ["Teh dgo barked at Jowell ."]
    assert [r.tolist() for r in again.log_probs(texts, None)] == [r.tolist() for r in method.log_probs(texts, None)]
    assert again.weights.tolist() == method.weights.tolist()
