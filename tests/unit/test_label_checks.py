"""Labels that are not what they seem: missing values written as text, and one class spelled two ways."""

from __future__ import annotations

import logging

import pytest

from finegrain.data.sources import load_source
from finegrain.errors import DataError
from finegrain.tasks.classification.task import ClassificationParams, ClassificationTask

ROWS = "good,pos\nbad,neg\nnice,pos\nsad,neg\n"


def trained_labels(tmp_path, body: str, multi_label: bool = False, name: str = "train.csv"):
    """The label map training would build from a csv of ``text,label`` rows."""
    path = tmp_path / name
    path.write_text("text,label\n" + body, encoding="utf-8")
    task = ClassificationTask(ClassificationParams(multi_label=multi_label))
    split = task.check(load_source(str(path), "train", {"text": "text", "label": "label"}))
    return task.label_map(split)


@pytest.mark.parametrize("spelling", ["nan", "NaN", "<NA>", "null", "#N/A"])
def test_a_missing_value_written_as_text_is_refused_with_its_rows(tmp_path, spelling):
    with pytest.raises(DataError) as caught:
        trained_labels(tmp_path, ROWS + f"meh,{spelling}\nugh,{spelling}\n")
    message = str(caught.value)
    assert "train.csv" in message and "2 missing label(s)" in message and "row(s) 5, 6" in message
    assert f"written '{spelling}'" in message and "refuses rather than drops" in message


def test_empty_and_nan_labels_are_counted_together(tmp_path):
    with pytest.raises(DataError, match=r"2 missing label\(s\).*row\(s\) 5, 6: 1 empty, 1 written 'NaN'"):
        trained_labels(tmp_path, ROWS + "meh,\nugh,NaN\n")


def test_a_missing_value_among_multi_labels_is_refused(tmp_path):
    with pytest.raises(DataError, match=r"row\(s\) 2: .*written 'nan'"):
        trained_labels(tmp_path, "good,pos|fun\nbad,neg|nan\nok,fun\n", multi_label=True)


def test_labels_differing_only_in_case_or_spacing_are_warned_about_with_rows(tmp_path, caplog):
    body = ROWS + "calm,neutral\nstill,neutral\nquiet,Neutral\nmild,very  good\nfine,very good\nok,Very good\n"
    with caplog.at_level(logging.WARNING, logger="finegrain"):
        labels = trained_labels(tmp_path, body)
    assert {"neutral", "Neutral", "very good", "very  good"} <= set(labels.names)  # kept as the data says
    warning = caplog.text
    assert "differ only in case or spacing" in warning and "train.csv" in warning
    assert "'Neutral' (row 7) beside 'neutral' (2 rows)" in warning
    # a tie: the spelling met first in the file is the one the others are compared with
    assert "'very good' (row 9), 'Very good' (row 10) beside 'very  good' (1 row)" in warning


def test_a_label_that_may_mean_missing_is_kept_with_a_warning(tmp_path, caplog):
    with caplog.at_level(logging.WARNING, logger="finegrain"):
        labels = trained_labels(tmp_path, ROWS + "meh,None\n")
    assert "None" in labels.names
    assert "'None' (row 5)" in caplog.text and "kept as a class" in caplog.text


def test_clean_labels_warn_nothing(tmp_path, caplog):
    with caplog.at_level(logging.WARNING, logger="finegrain"):
        assert trained_labels(tmp_path, ROWS).names == ("neg", "pos")
    assert caplog.text == ""
