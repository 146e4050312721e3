"""Evaluation layer: metrics against hand-computed answers, calibration, reports, tables."""

from __future__ import annotations

import json

import numpy as np
import pytest
from rich.console import Console

from finegrain.errors import DataError
from finegrain.tasks.classification.calibration import ece_from_bins, expected_calibration_error
from finegrain.tasks.classification.metrics import classification_metrics, error_examples, most_confused
from finegrain.evaluation.report import render_markdown, write_report
from finegrain.evaluation.tables import class_table, metrics_table
from finegrain.tasks.classification import ClassificationTask

REPORT = ClassificationTask.report

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
NAMES3 = ["neg", "neu", "pos"]


def _one_hot_probs(predicted: list[int], confidence: list[float], n_classes: int) -> np.ndarray:
    """Rows whose argmax is ``predicted`` with that probability; the rest spread evenly."""
    probs = np.zeros((len(predicted), n_classes))
    for row, (cls, conf) in enumerate(zip(predicted, confidence)):
        probs[row, :] = (1 - conf) / (n_classes - 1)
        probs[row, cls] = conf
    return probs


@pytest.fixture
def three_class_case() -> tuple[np.ndarray, np.ndarray]:
    # gold      0    0    1    1    2    2
    # predicted 0    1    1    1    2    0
    y_true = np.array([0, 0, 1, 1, 2, 2])
    probs = _one_hot_probs([0, 1, 1, 1, 2, 0], [0.8, 0.6, 0.7, 0.9, 0.5, 0.9], 3)
    return y_true, probs


def test_perfect_predictions_score_one_and_ece_is_the_confidence_gap() -> None:
    y_true = np.array([0, 1, 2, 1])
    confidence = [0.9, 0.6, 0.75, 0.95]
    m = classification_metrics(y_true, _one_hot_probs([0, 1, 2, 1], confidence, 3), NAMES3)
    assert m["accuracy"] == 1.0
    assert m["macro_f1"] == m["micro_f1"] == m["weighted_f1"] == 1.0
    # Every bin is 100% accurate, so ECE = sum(n_b/N * (1 - conf_b)) = 1 - mean confidence.
    assert m["ece"] == pytest.approx(1 - np.mean(confidence))
    assert most_confused(m["confusion_matrix"]) == []


def test_three_class_case_matches_hand_computed_numbers(three_class_case) -> None:
    y_true, probs = three_class_case
    m = classification_metrics(y_true, probs, NAMES3)
    # neg: TP 1, FP 1 (ex 5), FN 1 (ex 1) -> P 1/2, R 1/2, F1 1/2
    # neu: TP 2, FP 1 (ex 1), FN 0        -> P 2/3, R 1,   F1 4/5
    # pos: TP 1, FP 0, FN 1 (ex 5)        -> P 1,   R 1/2, F1 2/3
    # macro-F1 = (1/2 + 4/5 + 2/3) / 3 = 59/90 ~ 0.6556; supports are equal, so weighted = macro;
    # single-label micro-P/R/F1 = accuracy = 4/6.
    assert m["n"] == 6
    assert m["accuracy"] == pytest.approx(4 / 6)
    assert m["macro_f1"] == pytest.approx(59 / 90)
    assert m["macro_precision"] == pytest.approx((1 / 2 + 2 / 3 + 1) / 3)
    assert m["macro_recall"] == pytest.approx((1 / 2 + 1 + 1 / 2) / 3)
    assert m["weighted_f1"] == pytest.approx(59 / 90)
    assert m["micro_f1"] == m["micro_precision"] == m["micro_recall"] == pytest.approx(4 / 6)
    neu = {"precision": 2 / 3, "recall": 1.0, "f1": 0.8, "support": 2}
    assert m["per_class"]["neu"] == pytest.approx(neu)
    assert m["confusion_matrix"] == {"labels": NAMES3, "matrix": [[1, 1, 0], [0, 2, 0], [1, 0, 1]]}
    assert most_confused(m["confusion_matrix"]) == [
        {"gold": "neg", "predicted": "neu", "count": 1},
        {"gold": "pos", "predicted": "neg", "count": 1},
    ]


def test_metrics_are_plain_json_with_the_documented_keys(three_class_case) -> None:
    m = classification_metrics(*three_class_case, NAMES3)
    averages, scores = ("macro", "micro", "weighted"), ("precision", "recall", "f1")
    expected = {"multi_label", "n", "accuracy", "per_class", "confusion_matrix", "ece", "calibration"}
    expected |= {f"{average}_{score}" for average in averages for score in scores}
    assert set(m) == expected
    assert json.loads(json.dumps(m, allow_nan=False)) == m  # fails on any numpy scalar or NaN
    assert len(m["calibration"]) == 15
    assert sum(b["count"] for b in m["calibration"]) == 6


def test_class_absent_from_gold_is_still_listed() -> None:
    y_true = np.array([0, 1, 0, 1])
    m = classification_metrics(y_true, _one_hot_probs([0, 1, 1, 1], [0.9] * 4, 3), NAMES3)
    assert list(m["per_class"]) == NAMES3
    assert m["per_class"]["pos"] == {"precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 0}
    assert np.array(m["confusion_matrix"]["matrix"]).shape == (3, 3)


def test_multi_label_metrics() -> None:
    y_true = np.array([[1, 0, 1], [0, 1, 0], [1, 1, 0], [0, 0, 1]])
    # thresholded: [1,0,1] [0,1,1] [1,0,0] [0,0,1] -> one FP (row 1, label 2), one FN (row 2, label 1)
    probs = np.array([[0.9, 0.1, 0.8], [0.2, 0.7, 0.6], [0.95, 0.4, 0.1], [0.3, 0.2, 0.85]])
    m = classification_metrics(y_true, probs, ["a", "b", "c"], multi_label=True)
    assert m["multi_label"] is True
    assert m["accuracy"] == pytest.approx(0.5)  # rows 0 and 3 match exactly
    assert m["hamming_loss"] == pytest.approx(2 / 12)
    assert m["micro_f1"] == pytest.approx(5 / 6)  # TP 5, FP 1, FN 1
    assert m["per_class"]["b"]["f1"] == pytest.approx(2 / 3)
    assert m["per_class"]["c"]["f1"] == pytest.approx(0.8)
    assert m["macro_f1"] == pytest.approx((1 + 2 / 3 + 0.8) / 3)
    assert m["confusion_matrix"]["per_class"]["b"] == [[2, 0], [1, 1]]
    assert m["ece"] == pytest.approx(np.mean(list(m["per_label_ece"].values())))
    assert most_confused(m["confusion_matrix"]) == []
    json.dumps(m, allow_nan=False)


def test_invalid_inputs_say_what_was_expected() -> None:
    with pytest.raises(DataError, match="shape"):
        classification_metrics(np.array([0, 1]), np.ones((2, 2)) / 2, NAMES3)
    with pytest.raises(DataError, match="outside"):
        classification_metrics(np.array([0, 5]), np.ones((2, 3)) / 3, NAMES3)
    with pytest.raises(DataError, match="multi_label=True"):
        classification_metrics(np.ones((2, 3), dtype=int), np.ones((2, 3)) / 3, NAMES3)


def test_ece_near_zero_when_calibrated_and_large_when_overconfident() -> None:
    rng = np.random.default_rng(0)
    confidence = rng.uniform(0, 1, 20_000)
    calibrated, _ = expected_calibration_error(confidence, rng.uniform(0, 1, 20_000) < confidence)
    assert calibrated < 0.02
    overconfident_conf = rng.uniform(0.95, 1.0, 5_000)
    overconfident, bins = expected_calibration_error(overconfident_conf, rng.uniform(0, 1, 5_000) < 0.6)
    assert overconfident > 0.3
    assert ece_from_bins(bins) == pytest.approx(overconfident)


def test_ece_bins_are_equal_width_and_empty_bins_are_null() -> None:
    ece, bins = expected_calibration_error(np.array([0.0, 0.25, 1.0]), np.array([0, 1, 1]), n_bins=4)
    assert [(b["lower"], b["upper"]) for b in bins] == [(0, 0.25), (0.25, 0.5), (0.5, 0.75), (0.75, 1.0)]
    assert [b["count"] for b in bins] == [2, 0, 0, 1]  # right-closed bins; 0 joins the first
    assert bins[1]["accuracy"] is None and bins[1]["confidence"] is None
    assert ece == pytest.approx(2 / 3 * abs(0.5 - 0.125))


def test_error_examples_are_most_confident_first(three_class_case) -> None:
    y_true, probs = three_class_case
    texts = [f"text {i}" for i in range(6)]
    errors = error_examples(texts, y_true, probs, NAMES3)
    assert [e["index"] for e in errors] == [5, 1]
    assert errors[0] == {"index": 5, "text": "text 5", "gold": "pos", "predicted": "neg", "confidence": 0.9}
    assert error_examples(texts, y_true, probs, NAMES3, k=1)[0]["index"] == 5


def _split_metrics(three_class_case, texts: list[str]) -> dict:
    y_true, probs = three_class_case
    m = classification_metrics(y_true, probs, NAMES3)
    m["errors"] = error_examples(texts, y_true, probs, NAMES3)
    return m


def test_render_markdown_has_tables_and_escapes_pipes(three_class_case) -> None:
    texts = ["ok"] * 5 + ["left | right\nsecond line " + "x" * 300]
    m = _split_metrics(three_class_case, texts)
    md = render_markdown({"validation": m}, REPORT, title="Demo", run_info={"method": "lora", "lr": 5e-5})
    assert md.startswith("# Demo")
    assert "| method | lora |" in md and "| lr | 5e-05 |" in md
    assert "| validation | 6 | 0.6667 | 0.6556 | 0.6667 | 0.6556 |" in md
    assert "| neu | 0.6667 | 1.0000 | 0.8000 | 2 |" in md
    assert "| neg | 1 | 1 | 0 |" in md  # confusion-matrix row
    assert "| neg | neu | 1 |" in md  # most confused pair
    assert "left \\| right second line" in md
    error_row = next(line for line in md.splitlines() if "left \\| right" in line)
    assert len(error_row) < 260  # the 300-character text was truncated


def test_write_report_writes_pngs_and_markdown(tmp_path, three_class_case) -> None:
    metrics = {"test": _split_metrics(three_class_case, [f"t{i}" for i in range(6)])}
    report = write_report(tmp_path, metrics, REPORT, title="Run", run_info=None)
    assert report == tmp_path / "report.md"
    for name in ("confusion_test.png", "reliability_test.png"):
        assert (tmp_path / "plots" / name).read_bytes()[:8] == PNG_SIGNATURE
    md = report.read_text(encoding="utf-8")
    assert "![confusion matrix](plots/confusion_test.png)" in md
    assert "![reliability diagram](plots/reliability_test.png)" in md
    assert "Validation" not in md  # the absent split is simply not reported
    assert "images" not in metrics["test"]  # the caller's dict is left alone


def test_write_report_with_many_classes_skips_markdown_matrix(tmp_path) -> None:
    n_classes = 25
    names = [f"class_{i}" for i in range(n_classes)]
    rng = np.random.default_rng(1)
    y_true = rng.integers(0, n_classes, 200)
    probs = rng.dirichlet(np.ones(n_classes), 200)
    report = write_report(tmp_path, {"test": classification_metrics(y_true, probs, names)}, REPORT, title="Many")
    md = report.read_text(encoding="utf-8")
    assert "shown only as an image" in md
    assert "gold \\ predicted" not in md
    assert (tmp_path / "plots" / "confusion_test.png").read_bytes()[:8] == PNG_SIGNATURE


def test_write_report_multi_label(tmp_path) -> None:
    y_true = np.array([[1, 0], [0, 1], [1, 1]])
    probs = np.array([[0.9, 0.2], [0.4, 0.8], [0.7, 0.3]])
    m = classification_metrics(y_true, probs, ["x", "y"], multi_label=True)
    md = write_report(tmp_path, {"validation": m}, REPORT, title="ML").read_text(encoding="utf-8")
    assert "| label | TN | FP | FN | TP | ECE |" in md
    assert "| y | 1 | 0 | 1 | 1 |" in md
    assert "subset" in md


def test_render_markdown_without_splits() -> None:
    assert "No evaluation splits" in render_markdown({}, REPORT, title="Empty")


def test_rich_tables(three_class_case) -> None:
    m = classification_metrics(*three_class_case, ["[neg]", "neu", "pos"])
    summary = metrics_table({"validation": m, "test": m}, ClassificationTask.summary_columns)
    assert summary.row_count == 2
    headers = [column.header for column in summary.columns]
    assert headers == ["split", "n", "accuracy", "macro-F1", "micro-F1", "weighted-F1", "ECE"]
    console = Console(record=True, width=120)
    console.print(summary)
    console.print(class_table(m, ClassificationTask.class_scores))
    text = console.export_text()
    assert "0.6556" in text and "0.6667" in text
    assert "[neg]" in text  # shown literally, not swallowed as rich markup
