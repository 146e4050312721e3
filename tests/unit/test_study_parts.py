"""Study building blocks: config validation, nested sampling, count-based metrics and the bootstrap."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import f1_score

from finegrain.data.labels import LabelMap
from finegrain.data.split import Split
from finegrain.errors import ConfigError, DataError
from finegrain.study.cells import save_counts
from finegrain.study.config import load_study_config
from finegrain.study.plots import pareto_front
from finegrain.study.sampling import nested_positions
from finegrain.study.stats import bootstrap_weights, paired_test, seed_interval
from finegrain.tasks.classification.task import ClassificationParams, ClassificationTask
from finegrain.tasks.counts import macro_f1, micro_f1
from finegrain.tasks.ner.task import NerTask


def _study(**extra):
    return {"data": {"train": "bbc-news"}, "methods": ["full"], "output": "studies/x", **extra}


def test_variants_take_ids_and_per_method_overrides():
    study = load_study_config(_study(methods=["bitfit", {"name": "lora", "r": 4, "train": {"lr": 1e-3}},
                                              {"name": "lora", "r": 16}, {"name": "full", "id": "full-slow"}],
                                     sizes=["all", 0.5, 8], seeds=[3]))
    assert [v.id for v in study.variants()] == ["bitfit", "lora-1", "lora-2", "full-slow"]
    assert study.sizes == [8, 0.5, "all"]  # counts, then fractions, then all
    config = study.run_config(study.variants()[1], train_file="t.jsonl", validation_file="v.jsonl", seed=3,
                              output="cell")
    assert (config.method.name, config.method.params, config.train.lr, config.train.seed) == ("lora", {"r": 4},
                                                                                             1e-3, 3)
    assert (config.data.train, config.data.validation, config.data.test) == ("t.jsonl", "v.jsonl", None)


def test_every_problem_is_reported_with_its_method():
    with pytest.raises(ConfigError) as error:
        load_study_config(_study(methods=["lroa", {"name": "lora", "r": 0}, {"name": "full", "train": {"lrr": 1}}],
                                 sizes=[0, 1.5], seeds=[1, 1], sizez=[2]))
    message = error.value.message
    assert "sizez: unknown key. Did you mean 'sizes'?" in message
    assert "a size must be at least 1 example" in message and "seeds are repeated" in message
    with pytest.raises(ConfigError) as error:
        load_study_config(_study(methods=["lroa", {"name": "lora", "r": 0}, {"name": "full", "train": {"lrr": 1}}]))
    message = error.value.message
    assert "methods[0] (lroa)" in message and "lora" in message  # a did-you-mean for the typo
    assert "methods[1] (lora): method.r" in message
    assert "methods[2] (full): train.lrr: unknown key" in message


def test_duplicate_ids_are_refused():
    with pytest.raises(ConfigError, match="the id 'a' is used 2 times"):
        load_study_config(_study(methods=[{"name": "full", "id": "a"}, {"name": "lora", "id": "a"}]))


def test_samples_are_nested_stratified_and_seeded():
    frame = pd.DataFrame({"label": ["a"] * 30 + ["b"] * 10})
    small, large = (nested_positions(frame, "label", n, seed=4) for n in (3, 8))
    assert set(small) <= set(large)
    assert frame.iloc[large]["label"].value_counts().to_dict() == {"a": 8, "b": 8}
    assert not np.array_equal(small, nested_positions(frame, "label", 3, seed=5))
    assert np.array_equal(small, nested_positions(frame, "label", 3, seed=4))
    half = nested_positions(frame, "label", 0.5, seed=4)
    assert frame.iloc[half]["label"].value_counts().to_dict() == {"a": 15, "b": 5}
    assert len(nested_positions(frame, None, 7, seed=0)) == 7
    assert len(nested_positions(frame, "label", "all", seed=0)) == 40


def test_a_size_larger_than_a_class_names_the_class():
    frame = pd.DataFrame({"label": ["a"] * 30 + ["b"] * 10})
    with pytest.raises(DataError, match="class 'b' has only 10 examples"):
        nested_positions(frame, "label", 16, seed=0)
    taken = nested_positions(frame, "label", 16, seed=0, oversize="all")
    assert frame.iloc[taken]["label"].value_counts().to_dict() == {"a": 16, "b": 10}


def test_classification_counts_sum_to_the_headline_macro_f1():
    rng = np.random.default_rng(0)
    names = ["neg", "neu", "pos"]
    gold = [names[i] for i in rng.integers(0, 3, 50)]
    task, labels = ClassificationTask(), LabelMap(names)
    split = task.check(Split("test", pd.DataFrame({"text": ["x"] * 50, "label": gold}), "t"))
    logits = list(rng.normal(size=(50, 3)).astype(np.float32))
    counts = task.example_counts(split, [], logits, labels)
    expected = task.evaluate(split, [], logits, labels)["macro_f1"]
    assert float(macro_f1(counts.sum(0))) == pytest.approx(expected)
    assert expected == pytest.approx(f1_score([labels.id(g) for g in gold], np.argmax(logits, 1), average="macro"))


def test_multi_label_counts_sum_to_the_headline_macro_f1():
    rng = np.random.default_rng(1)
    task = ClassificationTask(ClassificationParams(multi_label=True))
    labels = LabelMap(["a", "b", "c"])
    gold = ["|".join(n for n in "abc" if rng.random() < 0.5) or "a" for _ in range(40)]
    split = task.check(Split("test", pd.DataFrame({"text": ["x"] * 40, "label": gold}), "t"))
    logits = list(rng.normal(size=(40, 3)).astype(np.float32))
    counts = task.example_counts(split, [], logits, labels)
    assert float(macro_f1(counts.sum(0))) == pytest.approx(task.evaluate(split, [], logits, labels)["macro_f1"])


def test_ner_counts_sum_to_the_headline_entity_f1(tiny_model_dir):
    from transformers import AutoTokenizer

    task = NerTask()
    frame = pd.DataFrame({"tokens": [["john", "lives", "in", "paris"], ["good", "day"], ["ann", "and", "bob"]],
                          "tags": [["B-PER", "O", "O", "B-LOC"], ["O", "O"], ["B-PER", "O", "B-PER"]]})
    split = task.check(Split("test", frame, "t"))
    labels = task.label_map(split)
    features = task.encode(split, AutoTokenizer.from_pretrained(tiny_model_dir), labels, 32)
    rng = np.random.default_rng(2)
    logits = [rng.normal(size=(len(f["input_ids"]), len(labels.names))).astype(np.float32) for f in features]
    counts = task.example_counts(split, features, logits, labels)
    assert counts.shape == (3, 3)
    assert float(micro_f1(counts.sum(0))) == pytest.approx(task.evaluate(split, features, logits, labels)["entity_f1"])


def _counts(correct: np.ndarray) -> np.ndarray:
    """Micro (tp, fp, fn) per example of a single-entity-per-example task."""
    return np.stack([correct, 1 - correct, 1 - correct], axis=1).astype(float)


def test_interval_covers_the_mean_and_shrinks_with_more_examples():
    rng = np.random.default_rng(0)
    wide, narrow = ([_counts((rng.random(n) < 0.7).astype(int)) for _ in range(3)] for n in (50, 2000))
    intervals = [seed_interval(per_seed, micro_f1, bootstrap_weights(len(per_seed[0]))) for per_seed in (wide, narrow)]
    for interval in intervals:
        assert interval.low <= interval.mean <= interval.high
    assert (intervals[1].high - intervals[1].low) < (intervals[0].high - intervals[0].low) / 3


def test_paired_test_separates_a_real_gap_from_none():
    rng = np.random.default_rng(1)
    truth = rng.random((2, 400))
    better = [_counts((t < 0.8).astype(int)) for t in truth]
    worse = [_counts((t < 0.6).astype(int)) for t in truth]  # wrong wherever 'better' is, and more
    weights = bootstrap_weights(400)
    difference, p_value = paired_test(better, worse, micro_f1, weights)
    assert difference > 0.1 and p_value <= 0.002
    difference, p_value = paired_test(better, better, micro_f1, weights)
    assert difference == 0.0 and p_value == 1.0


def test_pareto_front_keeps_only_undominated_points():
    assert pareto_front([(10, 0.9), (1, 0.5), (5, 0.4), (3, 0.8)]) == [(1, 0.5), (3, 0.8), (10, 0.9)]
    # a metric that is better lower (an error): the front keeps the cheapest point at each new low
    assert pareto_front([(10, 0.1), (1, 0.5), (5, 0.6), (3, 0.2)], greater_is_better=False) == [(1, 0.5), (3, 0.2),
                                                                                               (10, 0.1)]


def test_cell_counts_keep_a_task_s_float_sums(tmp_path):
    save_counts(tmp_path / "ints.npy", np.array([[1, 0, 2]], dtype=np.int64))
    save_counts(tmp_path / "floats.npy", np.array([[0.25, 1.0]]))
    assert np.load(tmp_path / "ints.npy").dtype == np.int32
    assert np.load(tmp_path / "floats.npy").tolist() == [[0.25, 1.0]]  # an absolute error is not truncated to 0


def test_resume_ignores_keys_a_newer_version_added_but_not_changed_ones():
    from finegrain.training.run_dir import changed_keys

    saved = {"model": {"name": "default"}, "train": {"lr": 1e-4}}
    newer = {"model": {"name": "default", "random_init": False}, "train": {"lr": 1e-4}}
    assert changed_keys(saved, newer, ignore_added=True) == set()
    assert changed_keys(saved, newer) == {"model.random_init"}
    assert changed_keys(saved, {**newer, "train": {"lr": 1e-3}}, ignore_added=True) == {"train.lr"}


def test_an_unknown_explainer_in_the_explain_block_is_refused():
    study = {"data": {"train": "train.csv"}, "methods": ["full"], "output": "out", "explain": {"method": "shap"}}
    with pytest.raises(ConfigError, match="unknown explainer 'shap'; choose one of attention-rollout"):
        load_study_config(study)
    study["explain"] = {"method": "ig", "examples": 5}
    assert load_study_config(study).explain.method == "integrated-gradients"
