"""The pair baselines (tfidf-pair, bi-encoder) without the runner: their features, Chinese pairs, saving
without pickle, and which tasks each kind of fitted method takes (trained runs: the contract tests)."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from finegrain.errors import ConfigError
from finegrain.methods.estimators.bi_encoder import pair_embedding_features
from finegrain.methods.estimators.tfidf_pair import TfidfPair, TfidfPairParams, pair_features
from finegrain.registry import METHODS
from finegrain.tasks.classification import ClassificationTask
from finegrain.tasks.ner import NerTask
from finegrain.tasks.pair import PairClassificationTask

CHINESE = [("怎么还款", "如何还款", 1), ("怎么还款", "信用卡额度多少", 0),
           ("额度怎么提高", "如何提高额度", 1), ("额度怎么提高", "还款日是哪天", 0),
           ("我要注销账户", "账户怎么注销", 1), ("我要注销账户", "怎么开通网银", 0),
           ("网银怎么开通", "开通网银的方法", 1), ("网银怎么开通", "我要注销账户", 0)] * 3


def test_tfidf_pair_features_are_both_sides_their_difference_product_and_cosine():
    from sklearn.feature_extraction.text import TfidfVectorizer

    vectorizer = TfidfVectorizer().fit(["good movie", "bad movie", "good day"])
    features = pair_features(vectorizer, [("good movie", "good day"), ("bad movie", "bad movie")]).toarray()
    a = vectorizer.transform(["good movie", "bad movie"]).toarray()
    b = vectorizer.transform(["good day", "bad movie"]).toarray()
    d = a.shape[1]
    np.testing.assert_allclose(features[:, :d], a)
    np.testing.assert_allclose(features[:, 2 * d:3 * d], np.abs(a - b))
    np.testing.assert_allclose(features[:, 3 * d:4 * d], a * b)
    np.testing.assert_allclose(features[:, -1], [float(a[0] @ b[0]), 1.0])  # identical texts: cosine 1


def test_tfidf_pair_char_ngrams_match_chinese_questions_and_reload_without_pickle(tmp_path):
    pairs, targets = [(a, b) for a, b, _ in CHINESE], np.array([label for _, _, label in CHINESE])
    method = TfidfPair(TfidfPairParams())
    stats = method.fit(pairs, targets, SimpleNamespace(seed=0))
    assert stats.trainable == stats.total > 0
    unseen = [("怎样还款", "如何还款"), ("怎样还款", "网银开通"), ("提高额度", "额度提高")]
    assert method.log_probs(unseen, None).argmax(1).tolist() == [1, 0, 1]
    method.save(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "char-idf.safetensors", "char-vocabulary.json", "head.safetensors", "word-idf.safetensors",
        "word-vocabulary.json"]
    again = TfidfPair(TfidfPairParams()).load(tmp_path, None)
    np.testing.assert_array_equal(again.log_probs(unseen, None), method.log_probs(unseen, None))


def test_bi_encoder_features_are_u_v_difference_product_and_cosine():
    u, v = np.array([[3.0, 4.0], [1.0, 0.0]]), np.array([[3.0, 4.0], [0.0, 2.0]])
    features = pair_embedding_features(u, v)
    assert features.shape == (2, 9)
    np.testing.assert_allclose(features[0], [3, 4, 3, 4, 0, 0, 9, 16, 1.0])
    np.testing.assert_allclose(features[1], [1, 0, 0, 2, 1, 2, 0, 0, 0.0])
    assert pair_embedding_features(np.zeros((1, 2)), u[:1])[0, -1] == 0.0  # no division by a zero norm


@pytest.mark.parametrize("method", ["tfidf", "embeddings-lr", "setfit"])
def test_single_text_estimators_refuse_pairs_naming_the_pair_baselines(method):
    refusal = f"Method '{method}' does not support the 'pair-classification' task"
    with pytest.raises(ConfigError, match=refusal) as error:
        METHODS.get(method)().check_task(PairClassificationTask())
    assert "tfidf-pair" in error.value.hint and "bi-encoder" in error.value.hint and "lora" in error.value.hint


@pytest.mark.parametrize("method", ["tfidf-pair", "bi-encoder"])
@pytest.mark.parametrize("task", [ClassificationTask, NerTask])
def test_pair_baselines_refuse_single_text_tasks(method, task):
    with pytest.raises(ConfigError, match=f"Method '{method}' does not support the '{task.name}' task") as error:
        METHODS.get(method)().check_task(task())
    assert "tfidf-pair" not in error.value.hint
    METHODS.get(method)().check_task(PairClassificationTask())  # and take the pair task
