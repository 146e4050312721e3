"""finegrain export: hf / onnx / onnx-int8 for every task, each loaded back and checked for parity."""

from __future__ import annotations

import json

import numpy as np
import pytest

from finegrain.cli.main import main
from finegrain.errors import RunDirError
from finegrain.serving import export_run, load_export, open_predictor
from finegrain.training.predictor import load_predictor
from serving_runs import train_tiny

pytestmark = pytest.mark.usefixtures("one_thread")

TEXTS = ["good great movie", "the day was awful and sad", "table chair blue", "love it . worst food"]


@pytest.fixture(scope="module")
def runs(tmp_path_factory, tiny_model_dir, sentiment_files):
    def get(kind: str, method: str = "full", **params):
        return train_tiny(tmp_path_factory, tiny_model_dir, sentiment_files, kind=kind, method=method, **params)

    return get


@pytest.mark.parametrize("fmt", ["hf", "onnx", "onnx-int8"])
def test_lora_classification_export_matches_the_run(fmt, runs, tmp_path):
    run = runs("classification", "lora")
    report = export_run(run, fmt, tmp_path / fmt)
    assert report == json.loads((tmp_path / fmt / "parity.json").read_text())
    assert report["format"] == fmt and report["merged"] and report["examples"] == 30
    assert report["metric"] == "macro_f1"
    if fmt == "onnx-int8":  # int8 weights move the logits a little, the labels hardly
        assert 0 < report["max_abs_logit_diff"] < 0.5 and report["label_agreement"] >= 0.9
        assert abs(report["metric_after"] - report["metric_before"]) <= 0.1
    else:
        assert report["max_abs_logit_diff"] < 1e-4 and report["label_agreement"] == 1.0
        assert report["metric_after"] == pytest.approx(report["metric_before"]) and report["within_tolerance"]
    exported, original = load_export(tmp_path / fmt, precision="fp32"), load_predictor(run, "cpu", precision="fp32")
    assert (exported.runtime, original.runtime) == ("pytorch" if fmt == "hf" else "onnxruntime", "pytorch")
    got, want = exported.predict(TEXTS), original.predict(TEXTS)
    assert [p["label"] for p in got] == [p["label"] for p in want] or fmt == "onnx-int8"
    assert len(got) == len(TEXTS) and set(got[0]["scores"]) == {"neg", "neu", "pos"}


@pytest.mark.parametrize(("kind", "key"), [("ner", "entity_f1"), ("multi-label", "macro_f1")])
def test_onnx_export_of_other_tasks_shares_their_decode(kind, key, runs, tmp_path):
    run = runs(kind)
    report = export_run(run, "onnx", tmp_path / "onnx")
    assert report["metric"] == key and report["max_abs_logit_diff"] < 1e-4 and report["label_agreement"] == 1.0
    original = load_predictor(run, "cpu", precision="fp32")
    text = "the movie was good and the food awful"
    got, want = open_predictor(tmp_path / "onnx").predict([text])[0], original.predict([text])[0]
    if kind == "ner":
        assert [e["type"] for e in got["entities"]] == [e["type"] for e in want["entities"]]
        assert [(e["start"], e["end"]) for e in got["entities"]] == [(e["start"], e["end"]) for e in want["entities"]]
        assert {text[e["start"]:e["end"]] for e in got["entities"]} == {"good", "awful"}
        assert [e["score"] for e in got["entities"]] == pytest.approx([e["score"] for e in want["entities"]], abs=1e-4)
    else:
        assert got["labels"] == want["labels"]
        assert np.allclose(list(got["scores"].values()), list(want["scores"].values()), atol=1e-4)


def test_default_output_and_cli_report(runs, capsys):
    run = runs("classification", "lora")
    assert main(["export", str(run), "--format", "onnx"]) == 0
    out = capsys.readouterr().out
    assert f"to {run}/exports/onnx" in out and "label agreement           100.00%" in out
    assert "within tolerance" in out and (run / "exports" / "onnx" / "model.onnx").is_file()
    assert main(["export", str(run), "--format", "onnx"]) == 0, "an earlier export is replaced"


def test_cli_refuses_a_method_that_cannot_merge_and_names_those_that_can(runs, capsys, tmp_path):
    run = runs("classification", "prompt", num_virtual_tokens=4, steps=5)
    assert main(["export", str(run), "--format", "onnx", "--out", str(tmp_path / "x")]) == 2
    err = capsys.readouterr().err
    assert "Method 'prompt' cannot be merged" in err and "lora" in err and "full" in err
    assert "Traceback" not in err and not (tmp_path / "x").exists()


def test_refuses_to_write_into_a_folder_of_other_files(runs, tmp_path):
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(RunDirError, match="not a finegrain export"):
        export_run(runs("classification", "lora"), "hf", tmp_path)
    assert (tmp_path / "notes.txt").read_text() == "mine"


def test_unknown_format_lists_the_formats(runs, capsys):
    assert main(["export", str(runs("classification", "lora")), "--format", "tflite"]) == 2
    assert "onnx-int8" in capsys.readouterr().err
