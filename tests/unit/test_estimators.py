"""The estimator methods (tfidf, embeddings-lr, setfit) end to end on the tiny BERT: they learn, their
logits are the estimator's own log-probabilities, the CLI trains/predicts/evaluates them, and bad
parameters or unsupported tasks fail with errors that list the valid choices."""

from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
import torch
from transformers import AutoModel

import finegrain
from finegrain.cli.main import main
from finegrain.config import load_config
from finegrain.errors import ConfigError, ModelError
from finegrain.methods.estimators.linear_head import LinearHead
from finegrain.methods.estimators.pairs import make_pairs
from finegrain.methods.estimators.tfidf import Tfidf, TfidfParams
from finegrain.training.predictor import run_splits

pytestmark = pytest.mark.usefixtures("one_thread")

TEXTS = ["great love excellent", "awful terrible", "table chair window", "bad worst", "happy wonderful"]


def _quiet_main(args: list[str]) -> int:
    with contextlib.redirect_stdout(io.StringIO()):
        return main([str(arg) for arg in args])


@pytest.fixture(scope="module")
def runs(tmp_path_factory, tiny_model_dir, sentiment_files) -> dict[str, Path]:
    """tfidf through CLI flags, setfit through a YAML config on the CLI, embeddings-lr through the API."""
    root = tmp_path_factory.mktemp("estimators")
    data = {name: str(path) for name, path in sentiment_files.items()}
    assert _quiet_main(["train", "--data", data["train"], "--validation", data["validation"], "--test", data["test"],
                        "--method", "tfidf", "--output", root / "tfidf"]) == 0
    config = root / "setfit.yaml"
    config.write_text(json.dumps({  # JSON is YAML
        "model": {"name": str(tiny_model_dir), "max_length": 32}, "method": {"name": "setfit", "num_iterations": 2},
        "data": data, "train": {"max_steps": 20, "lr": 1e-2, "precision": "fp32", "seed": 1},
        "output": str(root / "setfit")}))
    assert _quiet_main(["train", config]) == 0
    finegrain.train({"model": {"name": str(tiny_model_dir), "max_length": 32}, "method": "embeddings-lr",
                     "data": data, "train": {"precision": "fp32"}, "output": str(root / "embeddings-lr")})
    return {name: root / name for name in ("tfidf", "setfit", "embeddings-lr")}


@pytest.mark.parametrize("method", ["tfidf", "embeddings-lr", "setfit"])
def test_learns_and_writes_a_normal_run(method, runs):
    run = runs[method]
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["test"]["accuracy"] > 0.6 and metrics["validation"]["macro_f1"] > 0.6  # chance: 1/3
    info = json.loads((run / "run.json").read_text())
    assert info["status"] == "finished" and info["method"] == method and info["labels"] == ["neg", "neu", "pos"]
    assert (run / "report.md").read_text().startswith(f"# classification · {method}")


@pytest.mark.parametrize("method", ["tfidf", "embeddings-lr", "setfit"])
def test_logits_are_log_probabilities_in_input_order(method, runs):
    predictor = finegrain.load(runs[method])
    split = run_splits(predictor)["test"]
    features, logits = predictor.logits(split)
    assert len(features) == len(logits) == len(split)
    np.testing.assert_allclose(np.exp(np.stack(logits)).sum(1), 1.0, rtol=1e-5)
    forward, backward = predictor.predict(TEXTS), predictor.predict(TEXTS[::-1])
    assert forward == backward[::-1]


def test_tfidf_predicts_what_scikit_learn_predicts(runs, sentiment_files):
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression

    train, test = pd.read_csv(sentiment_files["train"]), pd.read_csv(sentiment_files["test"])
    vectorizer = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True)
    model = LogisticRegression(C=10.0, max_iter=1000, random_state=0).fit(vectorizer.fit_transform(train.text),
                                                                            train.label)
    expected = model.predict_proba(vectorizer.transform(test.text))
    predicted = finegrain.load(runs["tfidf"]).predict(test.text.tolist())
    assert [p["label"] for p in predicted] == list(model.classes_[expected.argmax(1)])
    scores = np.array([[p["scores"][name] for name in model.classes_] for p in predicted])
    np.testing.assert_allclose(scores, expected, atol=1e-5)


def test_predict_and_eval_cli(runs, tmp_path, capsys):
    texts = tmp_path / "texts.txt"
    texts.write_text("\n".join(TEXTS) + "\n")
    assert main(["predict", str(runs["tfidf"]), "--input", str(texts)]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [line["text"] for line in lines] == TEXTS and lines[0]["label"] == "pos" and lines[1]["label"] == "neg"
    assert main(["eval", str(runs["setfit"])]) == 0
    assert "Per class (test)" in capsys.readouterr().out


def test_setfit_saves_its_fine_tuned_encoder_in_hugging_face_format(runs, tiny_model_dir):
    tuned, base = AutoModel.from_pretrained(runs["setfit"] / "model"), AutoModel.from_pretrained(tiny_model_dir)
    changed = [name for name, p in tuned.named_parameters() if not torch.equal(p, base.get_parameter(name))]
    assert len(changed) > 10
    log = [json.loads(line) for line in (runs["setfit"] / "log.jsonl").read_text().splitlines()]
    assert sum("loss" in record for record in log) == 2  # max_steps 20, logged every 10 steps by the loop
    assert not (runs["setfit"] / "checkpoints").exists()


def test_embeddings_lr_saves_only_its_head(runs):
    assert sorted(p.name for p in (runs["embeddings-lr"] / "model").iterdir()) == ["README.md", "head.safetensors"]
    info = json.loads((runs["embeddings-lr"] / "run.json").read_text())
    assert info["parameters"]["trainable"] == 32 * 3 + 3  # hidden 32 x 3 classes + biases; the encoder is frozen


def test_tfidf_char_ngrams_learn_chinese():
    texts = ["很好吃", "非常好", "好喜欢", "太好了", "很难吃", "非常差", "太差了", "不喜欢"] * 3
    targets = np.array([1, 1, 1, 1, 0, 0, 0, 0] * 3)
    words = Tfidf(TfidfParams())
    words.fit(texts, targets, SimpleNamespace(seed=0))
    assert len(words.vectorizer.vocabulary_) == 8  # the word analyzer sees each text as one token
    chars = Tfidf(TfidfParams(analyzer="char_wb"))
    chars.fit(texts, targets, SimpleNamespace(seed=0))
    assert chars.log_probs(["真好吃", "真差"], None).argmax(1).tolist() == [1, 0]


@pytest.mark.parametrize("classes", [2, 3])
def test_linear_head_matches_scikit_learn(classes):
    from sklearn.linear_model import LogisticRegression

    rng = np.random.default_rng(0)
    features, targets = rng.normal(size=(90, 4)), np.arange(90) % classes
    model = LogisticRegression().fit(features, targets)
    head = LinearHead(model.coef_, model.intercept_)
    np.testing.assert_allclose(np.exp(head.log_probs(features)), model.predict_proba(features), atol=1e-6)


def test_pairs_are_drawn_like_setfit():
    targets = np.array([0, 0, 0, 1, 1, 2])
    features = [{"input_ids": [i]} for i in range(6)]
    pairs = make_pairs(features, targets, num_iterations=5, seed=0)
    assert len(pairs) == 2 * 5 * 6
    for pair in pairs:
        a, b = pair["input_ids"][0], pair["pair_ids"][0]
        assert (targets[a] == targets[b]) == (pair["labels"] == 1.0)
        assert a != b or targets[a] == 2  # a class of one pairs with itself


def test_unsupported_multi_label_names_the_methods_that_support_it(tmp_path, sentiment_files):
    config = {"task": {"name": "classification", "multi_label": True}, "method": "setfit",
              "data": {"train": str(sentiment_files["train"])}, "output": str(tmp_path / "run")}
    with pytest.raises(ConfigError) as error:
        finegrain.train(config)
    text = str(error.value)
    assert "multi-label" in text and "full, " in text and "tfidf" not in text.split("Methods for")[1]
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize(("method", "key", "value", "expected"), [
    ("tfidf", "C", 0, "method.C: Input should be greater than 0"),
    ("embeddings-lr", "C", -1, "method.C: Input should be greater than 0"),
    ("setfit", "num_iterations", 0, "method.num_iterations: Input should be greater than or equal to 1"),
    ("tfidf", "analyzer", "chars", "method.analyzer: Input should be 'word' or 'char_wb'"),
    ("tfidf", "ngram_range", [3, 1], "1 <= min <= max"),
    ("setfit", "iterations", 5, "Did you mean 'num_iterations'"),
])
def test_bad_parameters_are_config_errors(method, key, value, expected):
    with pytest.raises(ConfigError, match="problem") as error:
        load_config({"data": {"train": "x"}, "output": "o", "method": {"name": method, key: value}})
    assert expected in str(error.value)


def test_a_resumed_setfit_run_logs_each_step_once(tmp_path, tiny_model_dir, sentiment_files):
    """An interrupted estimator run is fitted again from the start, so its old log goes with it."""
    config = {"model": {"name": str(tiny_model_dir), "max_length": 32}, "method": {"name": "setfit", "num_iterations": 2},
              "data": {name: str(path) for name, path in sentiment_files.items()},
              "train": {"max_steps": 20, "log_every": 5, "precision": "fp32"}, "output": str(tmp_path / "run")}
    finegrain.train(config)
    info_file = tmp_path / "run" / "run.json"
    info = json.loads(info_file.read_text())
    info_file.write_text(json.dumps({**info, "status": "interrupted"}))  # as a kill after the fit leaves it
    finegrain.train(config, resume=True)
    steps = [json.loads(line)["step"] for line in (tmp_path / "run" / "log.jsonl").read_text().splitlines()]
    assert steps == [5, 10, 15, 20]


@pytest.mark.parametrize("task, method", [("classification", "tfidf"), ("spelling", "char-ngram")])
def test_a_method_without_an_encoder_never_resolves_the_model(task, method, tmp_path, sentiment_files):
    """tfidf and the fitted correctors read texts only: a model.name that names nothing (or one that would be built
    on first use, like zh-small) is not looked up, so such a run needs no model on the machine."""
    if task == "spelling":
        from finegrain.tasks.spelling.tiny import make_spelling_rows

        (tmp_path / "pairs.jsonl").write_text("".join(json.dumps(r) + "\n" for r in make_spelling_rows(40, seed=3)))
        data = {"train": str(tmp_path / "pairs.jsonl"), "test": str(tmp_path / "pairs.jsonl")}
    else:
        data = {name: str(path) for name, path in sentiment_files.items()}
    missing = tmp_path / "no-model-here"
    with pytest.raises(ModelError):  # the same name stops a method that needs an encoder
        finegrain.train({"task": task, "model": {"name": str(missing)}, "method": "full", "data": data,
                         "output": str(tmp_path / "full")})
    result = finegrain.train({"task": task, "model": {"name": str(missing)}, "method": method, "data": data,
                              "output": str(tmp_path / "run")})
    info = json.loads((result.run_dir / "run.json").read_text())
    assert info["model_path"] is None and "base_model" not in info and not missing.exists()
    assert "none (the method uses no encoder)" in (result.run_dir / "report.md").read_text(encoding="utf-8")
    assert len(finegrain.load(result.run_dir).predict(["some text"])) == 1
