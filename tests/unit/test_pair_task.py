"""The pair-classification task without training: its metrics against scikit-learn and hand-computed values,
the threshold chosen on validation, encoding of pairs, its checks, inputs, request schema and config keys."""

from __future__ import annotations

import json
import logging

import numpy as np
import pandas as pd
import pytest
from pydantic import ValidationError
from sklearn.metrics import f1_score, roc_auc_score

from finegrain.config import dump_config, load_config
from finegrain.data.inputs import InputSource, choose_format
from finegrain.data.labels import LabelMap
from finegrain.data.split import Split
from finegrain.errors import ConfigError, DataError
from finegrain.tasks.pair import PairClassificationTask, PairParams
from finegrain.tasks.pair.metrics import best_threshold, f1_at, macro_roc_auc
from finegrain.tasks.pair.serving import PAYLOAD, PairRequest
from finegrain.training.setup import load_tokenizer, warn_unknown_tokens

BINARY = LabelMap.from_values(["same", "different"])  # names sorted: different (0), same (1)
NLI = LabelMap.from_values(["entailment", "neutral", "contradiction"])


def _split(name: str, labels: list[str], first: list[str] | None = None) -> Split:
    n = len(labels)
    first = first or [f"question {i}" for i in range(n)]
    frame = pd.DataFrame({"text": first, "text_pair": [f"other {i}" for i in range(n)], "label": labels,
                          "row": range(1, n + 1)})
    return Split(name, frame, f"{name}.csv")


def _logits(p_same: list[float]) -> list[np.ndarray]:
    """Logits whose softmax over (different, same) gives P(same) = ``p_same``."""
    return [np.log(np.array([1 - p, p], dtype=np.float32)) for p in p_same]


def test_roc_auc_matches_scikit_learn_and_a_hand_computed_value():
    targets = np.array([0, 0, 1, 1])
    p1 = np.array([0.1, 0.4, 0.35, 0.8])  # 3 of the 4 (positive, negative) pairs are ranked right: 0.75
    probs = np.stack([1 - p1, p1], axis=1)
    assert macro_roc_auc(targets, probs) == pytest.approx(0.75) == roc_auc_score(targets, p1)
    rng = np.random.default_rng(0)
    three = rng.dirichlet(np.ones(3), size=30)
    labels = np.arange(30) % 3
    assert macro_roc_auc(labels, three) == pytest.approx(roc_auc_score(labels, three, multi_class="ovr"))
    absent = np.array([0, 0, 1, 1])  # class 2 never gold: the mean over classes 0 and 1 only
    expected = np.mean([roc_auc_score(absent == c, three[:4, c]) for c in (0, 1)])
    assert macro_roc_auc(absent, three[:4]) == pytest.approx(expected)
    assert macro_roc_auc(np.array([1, 1]), probs[:2]) is None


def test_best_threshold_is_where_f1_is_highest():
    gold = np.array([False, True, True, False, True])
    scores = np.array([0.1, 0.3, 0.6, 0.7, 0.9])
    # at 0.1: P 3/5 R 1 -> F1 .75; at 0.3: P 3/4 R 1 -> 6/7; at 0.6: 2/3; at 0.7: .4; at 0.9: .5
    assert best_threshold(gold, scores) == 0.3
    at = f1_at(gold, scores, 0.3)
    assert at == {"f1": pytest.approx(6 / 7), "precision": 0.75, "recall": 1.0}
    assert at["f1"] == pytest.approx(f1_score(gold, scores >= 0.3))
    assert best_threshold(np.zeros(3, dtype=bool), scores[:3]) is None


def test_threshold_is_chosen_on_validation_and_applied_to_test():
    task = PairClassificationTask()
    validation = _split("validation", ["different", "same", "same", "different", "same"])
    metrics = task.evaluate(validation, [], _logits([0.1, 0.3, 0.6, 0.7, 0.9]), BINARY)
    assert metrics["threshold_f1"] == {"positive": "same", "threshold": pytest.approx(0.3), "chosen_on": "validation",
                                       "f1": pytest.approx(6 / 7), "precision": pytest.approx(0.75), "recall": 1.0}
    test = _split("test", ["same", "different", "same", "different"])
    scores = [0.35, 0.32, 0.2, 0.05]  # at the validation's 0.3: tp 1, fp 1, fn 1 -> F1 1/2
    metrics = task.evaluate(test, [], _logits(scores), BINARY)
    assert metrics["threshold_f1"]["chosen_on"] == "validation"
    assert metrics["threshold_f1"]["threshold"] == pytest.approx(0.3)
    assert metrics["threshold_f1"]["f1"] == pytest.approx(0.5)
    gold = np.array([True, False, True, False])
    assert metrics["roc_auc"] == pytest.approx(roc_auc_score(gold, scores))
    assert metrics["accuracy"] == 0.5 and json.loads(json.dumps(metrics)) == metrics
    alone = PairClassificationTask().evaluate(test, [], _logits(scores), BINARY)  # no validation scored first
    assert alone["threshold_f1"]["chosen_on"] == "test" and alone["threshold_f1"]["threshold"] == pytest.approx(0.2)


def test_three_classes_have_macro_roc_auc_and_no_threshold():
    task = PairClassificationTask()
    split = _split("validation", ["entailment", "neutral", "contradiction"] * 2)
    rng = np.random.default_rng(1)
    logits = [row.astype(np.float32) for row in rng.normal(size=(6, 3))]
    metrics = task.evaluate(split, [], logits, NLI)
    probs = np.exp(np.stack(logits)) / np.exp(np.stack(logits)).sum(1, keepdims=True)
    targets = np.array([NLI.id(v) for v in split.frame["label"]])
    assert "threshold_f1" not in metrics
    assert metrics["roc_auc"] == pytest.approx(roc_auc_score(targets, probs, multi_class="ovr"), abs=1e-6)
    assert all(error["text_pair"] == f"other {error['index']}" for error in metrics["errors"])
    report = task.report.split("validation", metrics)
    assert "### Ranking" in report and "text pair" in report


@pytest.mark.parametrize(("names", "param", "positive"), [
    (["0", "1"], None, "1"), (["no", "yes"], None, "yes"), (["different", "same"], None, "same"),
    (["contradiction", "entailment"], None, "entailment"), (["a", "b"], None, "b"), (["a", "b"], "a", "a")])
def test_the_positive_label(names, param, positive):
    task = PairClassificationTask(PairParams(positive_label=param))
    labels = task.label_map(_split("train", names * 3))
    metrics = task.evaluate(_split("validation", names), [], _logits([0.2, 0.9]), labels)
    assert metrics["threshold_f1"]["positive"] == positive


def test_a_positive_label_training_never_has_is_a_config_error():
    task = PairClassificationTask(PairParams(positive_label="match"))
    with pytest.raises(ConfigError, match="task.positive_label is 'match'.*Labels: different, same"):
        task.label_map(_split("train", ["same", "different"] * 2))


def test_an_empty_side_names_its_rows():
    split = _split("train", ["same", "different", "same"])
    split.frame.loc[1, "text_pair"] = "  "
    with pytest.raises(DataError, match=r"1 empty second text\(s\) in the train data, at row\(s\) 2") as error:
        PairClassificationTask().check(split)
    assert error.value.where == "train.csv"


def test_a_label_seen_only_in_test_is_refused():
    task = PairClassificationTask()
    labels = task.label_map(task.check(_split("train", ["same", "different"] * 2)))
    test = task.check(_split("test", ["same", "unrelated", "different"]))
    with pytest.raises(DataError, match=r"label\(s\) 'unrelated' that the training data never has, at row\(s\) 2"):
        task.check_labels(test, labels)


def test_pairs_encode_as_one_sequence_with_segments_and_both_sides_kept(tiny_model_dir):
    tokenizer = load_tokenizer(str(tiny_model_dir), 16)
    long_first = " ".join(["good"] * 40)
    split = PairClassificationTask().check(_split("train", ["same", "different"], [long_first, "bad day"]))
    features = PairClassificationTask().encode(split, tokenizer, BINARY, 16)
    first = features[0]
    assert len(first["input_ids"]) == 16 and first["labels"] == BINARY.id("same")
    assert 0 < sum(first["token_type_ids"]) < 16  # longest-first truncation leaves the second text in
    batch = PairClassificationTask().collate(features, tokenizer.pad_token_id)
    assert batch["token_type_ids"].shape == batch["input_ids"].shape
    padding = [0] * (16 - len(features[1]["input_ids"]))
    assert batch["token_type_ids"][1].tolist() == features[1]["token_type_ids"] + padding


@pytest.mark.parametrize(("value", "message"), [
    ("how do I pay", "is a str ('how do I pay'), but pair classification predicts from pairs of texts"),
    (("a", "b", "c"), "is a tuple"), (("a", 3), "is a tuple"), ({"text": "a", "second": "b"}, "is a dict"),
    (None, "is a NoneType")])
def test_predict_refuses_what_is_not_a_pair(value, message):
    with pytest.raises(DataError, match="give a list of pairs") as error:
        PairClassificationTask().prediction_split([("fine", "pair"), value])
    assert f"inputs[1] {message}" in str(error.value)


def test_predict_takes_tuples_lists_and_objects():
    split = PairClassificationTask().prediction_split([("a b", "c"), ["d", "e f"], {"text": "g", "text_pair": "h"}])
    assert PairClassificationTask().predict_inputs(split) == [("a b", "c"), ("d", "e f"), ("g", "h")]
    with pytest.raises(DataError, match="empty first text"):
        PairClassificationTask().prediction_split([(" ", "b")])


def _read(tmp_path, name: str, content: str, columns: dict[str, str] | None = None) -> list:
    path = tmp_path / name
    path.write_text(content, encoding="utf-8")
    source = InputSource(str(path), path=path, columns=columns or {"text": "text", "text_pair": "text_pair"})
    return choose_format(PairClassificationTask.input_formats, source).read(source)


def test_input_files_with_both_columns(tmp_path):
    assert _read(tmp_path, "a.csv", "text,text_pair,id\nx y,z,1\n") == [("x y", "z")]
    assert _read(tmp_path, "b.csv", "q1,q2\nx,y\n", {"text": "q1", "text_pair": "q2"}) == [("x", "y")]
    assert _read(tmp_path, "c.jsonl", '{"text": "x", "text_pair": "y", "label": "same"}\n') == [("x", "y")]
    assert _read(tmp_path, "d.txt", "x y\tz\nu\tv w\n") == [("x y", "z"), ("u", "v w")]
    assert _read(tmp_path, "e.txt", '{"text": "x", "text_pair": "y"}\n') == [("x", "y")]


def test_an_input_file_without_its_second_column_lists_the_columns_found(tmp_path):
    with pytest.raises(DataError) as error:
        _read(tmp_path, "a.csv", "q1,label\nx,same\n", {"text": "q1", "text_pair": "q2"})
    text = str(error.value)
    assert "no column 'q2' or 'text_pair' (the run's data.text_pair is 'q2')" in text
    assert "Found columns: q1, label" in text and "column 'q1'" not in text
    with pytest.raises(DataError, match="line 2 has 3 tab-separated part"):
        _read(tmp_path, "b.txt", "x\ty\nx\ty\tz\n")
    with pytest.raises(DataError, match="line 1 has an empty side"):
        _read(tmp_path, "c.txt", "x\t \n")
    with pytest.raises(DataError, match="line 1: field 'text_pair' is empty"):
        _read(tmp_path, "d.txt", '{"text": "x", "text_pair": ""}\n')
    with pytest.raises(DataError, match="row 1: column 'text_pair' is empty, but each row needs a second text"):
        _read(tmp_path, "e.jsonl", '{"text": "x", "text_pair": ""}\n')


def test_the_request_takes_pairs_as_lists_or_objects():
    body = PairRequest.model_validate({"pairs": [["a", "b"], {"text": "c", "text_pair": "d"}]})
    assert getattr(body, PAYLOAD.items) == [("a", "b"), ("c", "d")]
    for bad in ([["a"]], [["a", "b", "c"]], [{"text": "a"}], [{"text": "a", "text_pair": "b", "x": 1}], [["a", 1]]):
        with pytest.raises(ValidationError):
            PairRequest.model_validate({"pairs": bad})
    assert PAYLOAD.public({"label": "same", "scores": {"same": 1.0}, "internal": 1}) == {
        "label": "same", "scores": {"same": 1.0}}


def test_data_text_pair_is_a_key_of_the_pair_task_only():
    config = load_config({"task": "matching", "data": {"train": "x.csv", "text_pair": "q2"}, "output": "o"})
    assert config.task.name == "pair-classification" and config.data.text_pair == "q2"
    assert "text_pair: text_pair" in dump_config(load_config({"task": "nli", "data": {"train": "x"}, "output": "o"}))
    with pytest.raises(ConfigError) as error:
        load_config({"task": "classification", "data": {"train": "x.csv", "text_pair": "q2"}, "output": "o"})
    assert "data.text_pair: unknown key for the 'classification' task" in str(error.value)
    assert "set task: pair-classification" in str(error.value)
    with pytest.raises(ConfigError, match="data.text_pairs: unknown key.*Did you mean 'text_pair'"):
        load_config({"task": "nli", "data": {"train": "x.csv", "text_pairs": "q2"}, "output": "o"})
    with pytest.raises(ConfigError, match="data.text_pair: names a column"):
        load_config({"task": "nli", "data": {"train": "x.csv", "text_pair": ["a"]}, "output": "o"})


def test_chinese_text_through_an_english_vocabulary_warns_with_the_unknown_share(tiny_model_dir, caplog):
    tokenizer = load_tokenizer(str(tiny_model_dir), 32)
    texts = ["我想查询信用卡额度", "怎么还款"]
    features = [{"input_ids": ids} for ids in tokenizer(texts)["input_ids"]]
    with caplog.at_level(logging.WARNING, logger="finegrain"):
        warn_unknown_tokens(tokenizer, features, [(texts[0], texts[1])], "tiny")
    assert "100% of the training tokens are [UNK] for model 'tiny' (the data is Chinese)" in caplog.text
    assert "model.name=zh-small" in caplog.text
    caplog.clear()
    english = ["good movie", "bad day"]
    with caplog.at_level(logging.WARNING, logger="finegrain"):
        warn_unknown_tokens(tokenizer, [{"input_ids": ids} for ids in tokenizer(english)["input_ids"]], english, "t")
    assert caplog.text == ""
