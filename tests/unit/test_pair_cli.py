"""The pair task end to end through the command line: train from a config, eval, predict from a csv, export
to ONNX (token_type_ids included) and serve one request; and its bad input, each an error with exit 2."""

from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

import finegrain
from finegrain.cli.main import main
from finegrain.serving import load_export
from finegrain.serving.app import create_app
from finegrain.tasks.pair.tiny import tiny_dataset
from finegrain.tasks.tiny import FILLER, WORDS

pytestmark = pytest.mark.usefixtures("one_thread")

CONFIG = Path(__file__).parents[1] / "fixtures" / "pair_tiny.yaml"
PAIRS = [("good movie", "the good day"), ("bad movie", "a great day"), ("the table", "table is blue")]


def _main(*args: object) -> tuple[int, str]:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = main([str(arg) for arg in args])
    return code, out.getvalue()


@pytest.fixture(scope="module")
def run(tmp_path_factory, tiny_model_dir) -> Path:
    root = tmp_path_factory.mktemp("pair-cli")
    (root / "data").mkdir()
    tiny_dataset(root / "data")
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(root)
        code, printed = _main("train", CONFIG, f"model.name={tiny_model_dir}")
    assert code == 0 and "ROC-AUC" in printed and "threshold F1" in printed
    return root / "runs" / "pair-tiny"


@pytest.fixture
def in_run_folder(run, monkeypatch) -> Path:
    """The run's config names its data relative to where it was trained: eval and export read it there."""
    monkeypatch.chdir(run.parents[1])
    return run


def test_train_writes_pair_metrics_and_report(run):
    metrics = json.loads((run / "metrics.json").read_text())
    test = metrics["test"]
    assert test["n"] == 30 and 0 <= test["roc_auc"] <= 1 and set(test["per_class"]) == {"different", "same"}
    assert test["threshold_f1"]["chosen_on"] == "validation" and test["threshold_f1"]["positive"] == "same"
    assert test["threshold_f1"]["threshold"] == metrics["validation"]["threshold_f1"]["threshold"]
    report = (run / "report.md").read_text()
    assert "### Ranking and threshold" in report and "| text | text pair |" in report
    assert (run / "plots" / "confusion_test.png").is_file()
    assert "text_pair: text_pair" in (run / "config.yaml").read_text()
    assert 'predictor.predict([["first text", "second text"]])' in (run / "model" / "README.md").read_text()


def test_eval_reproduces_the_saved_metrics(in_run_folder, capsys):
    run = in_run_folder
    code, printed = _main("eval", run)
    saved = json.loads((run / "metrics.json").read_text())["test"]
    assert code == 0 and f"{saved['roc_auc']:.4f}" in printed and "Per class (test)" in printed
    assert finegrain.evaluate(run)["test"] == json.loads(json.dumps(saved))


def test_predict_from_a_csv_with_both_columns(run, tmp_path):
    source = tmp_path / "pairs.csv"
    source.write_text("id,text,text_pair\n" + "".join(f"{i},{a},{b}\n" for i, (a, b) in enumerate(PAIRS)),
                      encoding="utf-8")
    code, _ = _main("predict", run, "--input", source, "--output", tmp_path / "out.jsonl")
    lines = [json.loads(line) for line in (tmp_path / "out.jsonl").read_text().splitlines()]
    assert code == 0 and [(line["text"], line["text_pair"]) for line in lines] == PAIRS
    assert lines == [{**dict(zip(("text", "text_pair"), pair)), **prediction}
                     for pair, prediction in zip(PAIRS, finegrain.load(run).predict(PAIRS))]


def test_onnx_export_takes_the_segments_and_serves_pairs(in_run_folder, tmp_path):
    run = in_run_folder
    code, printed = _main("export", run, "--format", "onnx", "--out", tmp_path / "onnx")
    assert code == 0 and "label agreement           100.00%" in printed
    import onnx

    graph = onnx.load(str(tmp_path / "onnx" / "model.onnx")).graph
    assert [node.name for node in graph.input] == ["input_ids", "attention_mask", "token_type_ids"]
    exported, original = load_export(tmp_path / "onnx"), finegrain.load(run, "cpu")
    assert exported.runtime == "onnxruntime"
    assert [p["label"] for p in exported.predict(PAIRS)] == [p["label"] for p in original.predict(PAIRS)]
    with TestClient(create_app(exported)) as client:
        response = client.post("/v1/predict", json={"pairs": [list(PAIRS[0]), {"text": PAIRS[1][0],
                                                                                "text_pair": PAIRS[1][1]}]})
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["task"] == "pair-classification"
        want = exported.predict(PAIRS[:2])
        assert body["predictions"] == [{"label": p["label"], "scores": p["scores"]} for p in want]
        refused = client.post("/v1/predict", json={"pairs": [["only one text"]]})
        assert refused.status_code == 422 and '{"pairs": [["first text", "second text"]]}' in refused.json()["error"]
        assert client.get("/v1/info").json()["labels"] == ["different", "same"]


def test_three_label_pairs_train_with_the_tfidf_pair_baseline(tmp_path):
    """NLI-style: the key word equal (entailment), of the same class (neutral), of another class (contradiction)."""
    import random

    rng = random.Random(0)
    classes = list(WORDS)

    def row(i: int) -> str:
        first_class = rng.choice(classes)
        word = rng.choice(WORDS[first_class])
        label = ("entailment", "neutral", "contradiction")[i % 3]
        other = {"entailment": word, "neutral": rng.choice([w for w in WORDS[first_class] if w != word]),
                 "contradiction": rng.choice(WORDS[rng.choice([c for c in classes if c != first_class])])}[label]
        return f"{rng.choice(FILLER)} {word},{rng.choice(FILLER)} {other},{label}\n"

    for name, n in (("train", 150), ("validation", 30)):
        (tmp_path / f"{name}.csv").write_text("text,text_pair,label\n" + "".join(row(i) for i in range(n)))
    data = {"train": str(tmp_path / "train.csv"), "validation": str(tmp_path / "validation.csv")}
    result = finegrain.train({"task": "nli", "method": "tfidf-pair", "data": data, "output": str(tmp_path / "run")})
    validation = result.metrics["validation"]
    assert "threshold_f1" not in validation and validation["roc_auc"] > 0.6 and validation["accuracy"] > 0.5
    assert "### Ranking" in (tmp_path / "run" / "report.md").read_text()


def test_bad_pair_input_exits_2_with_what_to_fix(tmp_path, tiny_model_dir, capsys):
    data = tiny_dataset(tmp_path)
    base = ["model.name=" + str(tiny_model_dir), "train.max_steps=1", f"output={tmp_path / 'run'}",
            f"data.validation={data['validation']}"]
    single = tmp_path / "single.csv"
    single.write_text("text,label\ngood movie,same\nbad day,different\n" * 10, encoding="utf-8")
    assert main(["train", str(CONFIG), *base, f"data.train={single}"]) == 2
    err = capsys.readouterr().err
    assert "Column 'text_pair' (set by data.text_pair=text_pair) was not found" in err
    assert "Found columns: text, label" in err
    assert main(["train", str(CONFIG), *base, "task=classification", f"data.train={data['train']}"]) == 2
    assert "set task: pair-classification" in capsys.readouterr().err
    config = tmp_path / "classification.yaml"
    config.write_text(CONFIG.read_text().replace("task: pair-classification", "task: classification")
                      .replace(", text_pair: text_pair", ""), encoding="utf-8")
    assert main(["train", str(config), *base, f"data.train={data['train']}"]) == 2
    err = capsys.readouterr().err
    assert "has a column 'text_pair', which marks data for the 'pair-classification' task" in err
    assert "set task: pair-classification" in err and not (tmp_path / "run").exists()
