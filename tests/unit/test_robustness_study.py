"""A study's robustness block: every cell's flip and attack success rates, intervals over seeds and examples, a
paired test against the most robust method, the report's table and plot; per-example counts on hand-made cells."""

from __future__ import annotations

import json

import numpy as np
import pytest

from finegrain.study import run_study
from finegrain.study.robustness import INVARIANCE, rates


def test_rates_pool_failures_over_tries():
    counts = np.array([[1, 2, 1, 1], [0, 3, 0, 0], [2, 3, 0, 1]], dtype=float)
    assert rates(counts.sum(0).reshape(2, 2)).tolist() == pytest.approx([3 / 8, 1 / 2])
    assert rates(np.zeros(2)) == 0.0  # nothing tried: no failure rate above zero


def test_a_study_compares_the_robustness_of_its_methods(one_thread, tmp_path, tiny_model_dir, sentiment_files):
    files = sentiment_files
    result = run_study({
        "model": {"name": str(tiny_model_dir), "max_length": 32},
        "data": {"train": str(files["train"]), "validation": str(files["validation"]), "test": str(files["test"])},
        "train": {"epochs": 1, "batch_size": 8, "lr": 1e-3, "min_steps": 4}, "latency": False,
        "methods": ["tfidf", "full"], "sizes": [6], "seeds": [0, 1], "output": str(tmp_path / "s"),
        "robustness": {"examples": 12, "attacks": ["char", "embedding"], "min_similarity": 0}})
    assert result.summary["failures"] == []
    cell = json.loads((result.path / "cells/tfidf/size-6/seed-0/cell.json").read_text())
    assert cell["robustness"]["measures"] == [INVARIANCE, "char attack success rate"]  # no embeddings to attack
    assert cell["robustness"]["skipped_attacks"] == ["embedding"]
    full = json.loads((result.path / "cells/full/size-6/seed-0/cell.json").read_text())["robustness"]
    assert full["measures"] == [INVARIANCE, "char attack success rate", "embedding attack success rate"]
    counts = np.load(result.path / "cells/tfidf/size-6/seed-0/robustness.npy")
    assert counts.shape == (12, 4) and (counts[:, 0] <= counts[:, 1]).all() and counts[:, 3].max() <= 1
    rows = {row["method"]: row["robustness"] for row in result.summary["rows"]}
    assert "embedding attack success rate" not in rows["tfidf"] and rows["full"]["embedding attack success rate"]
    for measures in rows.values():
        for entry in measures.values():
            assert 0 <= entry["low"] <= entry["mean"] <= entry["high"] <= 1
    flips = {method: measures[INVARIANCE] for method, measures in rows.items()}
    assert sum(entry["best"] for entry in flips.values()) == 1
    other = next(entry for entry in flips.values() if not entry["best"])
    assert other["difference"] >= 0 and 0 < other["p_value"] <= 1
    report = (result.path / "report.md").read_text()
    assert "## Robustness" in report and "invariance flip rate" in report and (result.path / "plots" /
                                                                              "robustness.png").is_file()
