"""The core promises of a training run, on a tiny model built from a config.

The tiny random BERT learns the synthetic sentiment only after a plateau; 12 epochs of batch 8 at
lr 1e-3 reached at least 0.93 test accuracy for seeds 0-4 on an H100 (lr 5e-3 stalled at 0.67 for
one seed there, and 8 epochs were too few for some seeds on CPU). With CPU dropout masks drawn by
numpy (training/speedups/masks.py: the same distribution, another random stream) seed 0 stayed on the
0.67 plateau after 12 epochs; 16 epochs reached at least 0.93 for seeds 0-4 on CPU."""

from __future__ import annotations

import json

import pytest

import finegrain
from finegrain.config import dump_config, load_config


def _config(tiny_model_dir, files, output, **train):
    return {
        "model": {"name": str(tiny_model_dir), "max_length": 32},
        "data": {name: str(path) for name, path in files.items()},
        "train": {"epochs": 16, "batch_size": 8, "lr": 1e-3, "precision": "fp32", "log_every": 5, **train},
        "output": str(output),
    }


@pytest.fixture(scope="module")
def trained(tmp_path_factory, tiny_model_dir, sentiment_files):
    output = tmp_path_factory.mktemp("runs") / "sentiment"
    return finegrain.train(_config(tiny_model_dir, sentiment_files, output))


def test_run_dir_holds_everything_needed_to_use_it_again(trained):
    run = trained.run_dir
    for name in ("config.yaml", "labels.json", "metrics.json", "run.json", "report.md", "log.jsonl"):
        assert (run / name).is_file(), name
    info = json.loads((run / "run.json").read_text())
    assert info["status"] == "finished" and info["seed"] == 0
    assert {"torch", "transformers", "accelerate"} <= set(info["versions"])
    assert info["parameters"]["trainable"] == info["parameters"]["total"] > 0
    assert json.loads((run / "labels.json").read_text())["labels"] == ["neg", "neu", "pos"]
    assert load_config(run / "config.yaml").method.name == "full"
    assert trained.metrics["test"]["accuracy"] >= 0.9  # synthetic data is learnable


def test_run_opens_in_plain_transformers_with_label_names(trained):
    from transformers import AutoModelForSequenceClassification, pipeline

    model = AutoModelForSequenceClassification.from_pretrained(trained.run_dir / "model")
    assert model.config.id2label == {0: "neg", 1: "neu", 2: "pos"}
    classify = pipeline("text-classification", model=str(trained.run_dir / "model"))
    assert classify("great wonderful love")[0]["label"] == "pos"


def test_predictions_come_back_in_input_order(trained):
    predictor = finegrain.load(trained.run_dir)
    texts = ["bad", "good good good great love excellent nice the movie was so", "table", "awful terrible the day"]
    together = predictor.predict(texts, batch_size=2)
    alone = [predictor.predict([text])[0] for text in texts]
    assert [p["label"] for p in together] == [p["label"] for p in alone] == ["neg", "pos", "neu", "neg"]
    for a, b in zip(together, alone):
        assert a["scores"] == pytest.approx(b["scores"], abs=1e-4)


def test_each_evaluation_logs_the_primary_metric_and_those_the_task_declares(trained):
    records = [json.loads(line) for line in (trained.run_dir / "log.jsonl").read_text().splitlines()]
    evaluations = [record["eval"] for record in records if "eval" in record]
    assert evaluations and all(set(e) == {"step", "epoch", "macro_f1", "accuracy"} for e in evaluations)


def test_evaluate_reproduces_the_saved_metrics(trained):
    saved = json.loads((trained.run_dir / "metrics.json").read_text())
    again = finegrain.evaluate(trained.run_dir)
    assert again["test"]["accuracy"] == saved["test"]["accuracy"]
    assert again["validation"]["macro_f1"] == pytest.approx(saved["validation"]["macro_f1"])


def test_config_round_trips_through_yaml(trained):
    config = load_config(trained.run_dir / "config.yaml", ["train.lr=1e-4", "method.name=full"])
    assert config.train.lr == 1e-4
    assert load_config(_yaml_dict(dump_config(config))) == config


def _yaml_dict(text):
    import yaml

    return yaml.safe_load(text)


def test_multi_label_with_class_weights(tmp_path, tiny_model_dir):
    import random

    rng = random.Random(0)
    rows = []
    for i in range(90):
        labels = sorted(rng.sample(["pos", "neg", "neu"], rng.randint(1, 2)))
        words = {"pos": "good great", "neg": "bad awful", "neu": "table chair"}
        rows.append({"text": " ".join(words[l] for l in labels) + " the movie", "tags": "|".join(labels)})
    path = tmp_path / "multi.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in rows))
    config = _config(tiny_model_dir, {"train": path}, tmp_path / "multi", epochs=60, batch_size=4, lr=1e-3)  # micro-F1 1.0, seeds 0-4
    config["task"] = {"name": "classification", "multi_label": True, "class_weights": "balanced"}
    config["data"]["label"] = "tags"
    result = finegrain.train(config)
    assert result.metrics["validation"]["micro_f1"] > 0.8
    prediction = finegrain.load(result.run_dir).predict(["bad awful good great the movie"])[0]
    assert set(prediction["scores"]) == {"neg", "neu", "pos"}
    assert prediction["labels"] == [name for name, p in prediction["scores"].items() if p >= 0.5]


def test_early_stopping_and_accumulation(tmp_path, tiny_model_dir, sentiment_files):
    config = _config(tiny_model_dir, sentiment_files, tmp_path / "early", epochs=30, patience=2, grad_accum=2,
                     eval_every=5)
    result = finegrain.train(config)
    info = json.loads((result.run_dir / "run.json").read_text())
    assert info["stopped_early"] and info["steps"] < info["total_steps"]
    assert info["total_steps"] == 30 * 8  # 15 batches of 8 -> 8 optimizer steps per epoch at grad_accum=2
    # The kept model is the best evaluated one, not the last.
    assert result.metrics["validation"]["macro_f1"] == pytest.approx(info["best_metric"])


def test_max_steps_overrides_epochs(tmp_path, tiny_model_dir, sentiment_files):
    result = finegrain.train(_config(tiny_model_dir, sentiment_files, tmp_path / "steps", max_steps=7))
    info = json.loads((result.run_dir / "run.json").read_text())
    assert info["steps"] == info["total_steps"] == 7
