"""Readers: every format round-trips; every bad input gives a DataError naming file and place."""

from __future__ import annotations

import csv
import json
import logging
from pathlib import Path

import pandas as pd
import pytest

from finegrain.data.sampling import stratified_split, stratified_subsample
from finegrain.data.tables import read_table, require_columns
from finegrain.errors import DataError

ROWS = [{"text": "NA", "label": "pos"}, {"text": "a, b \"quoted\"", "label": "neg"}, {"text": "", "label": "pos"}]


def error_of(path: Path) -> str:
    with pytest.raises(DataError) as caught:
        read_table(path)
    message = str(caught.value)
    assert path.name in message
    return message


@pytest.mark.parametrize("suffix", [".csv", ".tsv", ".tab", ".jsonl", ".ndjson", ".json", ".parquet"])
def test_each_format_round_trips(tmp_path, suffix):
    path = tmp_path / f"data{suffix}"
    frame = pd.DataFrame(ROWS)
    if suffix == ".csv":
        frame.to_csv(path, index=False)
    elif suffix in (".tsv", ".tab"):
        frame.to_csv(path, index=False, sep="\t")
    elif suffix == ".json":
        frame.to_json(path, orient="records")
    elif suffix == ".parquet":
        frame.to_parquet(path)
    else:
        frame.to_json(path, orient="records", lines=True)
    read = read_table(path)
    assert read[["text", "label"]].to_dict("records") == ROWS
    assert read["row"].tolist() == [1, 2, 3]


def test_saved_dataset_folder_reads_and_class_labels_become_names(tmp_path):
    from datasets import ClassLabel, Dataset, Features, Value

    features = Features({"text": Value("string"), "label": ClassLabel(names=["neg", "pos"])})
    Dataset.from_dict({"text": ["x", "y"], "label": [1, 0]}, features=features).save_to_disk(tmp_path / "ds")
    read = read_table(tmp_path / "ds")
    assert read.to_dict("records") == [{"text": "x", "label": "pos", "row": 1}, {"text": "y", "label": "neg", "row": 2}]


def test_dataset_dict_folder_names_its_splits(tmp_path):
    from datasets import Dataset, DatasetDict

    part = Dataset.from_dict({"text": ["x"], "label": ["pos"]})
    DatasetDict({"train": part, "test": part}).save_to_disk(tmp_path / "dd")
    message = error_of(tmp_path / "dd")
    assert "train" in message and "test" in message and str(tmp_path / "dd" / "train") in message


def test_jsonl_rows_are_line_numbers(tmp_path):
    path = tmp_path / "data.jsonl"
    path.write_text('{"text": "a", "label": 1}\n\n{"text": "b", "label": 2}\n', encoding="utf-8")
    assert read_table(path)["row"].tolist() == [1, 3]


def test_missing_file_suggests_similar_names(tmp_path):
    (tmp_path / "train.csv").write_text("text,label\na,b\n", encoding="utf-8")
    message = error_of(tmp_path / "trian.csv")
    assert "not found" in message and "train.csv" in message


def test_unknown_extension_lists_supported(tmp_path):
    path = tmp_path / "data.xlsx"
    path.write_bytes(b"x")
    message = error_of(path)
    assert ".xlsx" in message and ".csv" in message and ".parquet" in message


@pytest.mark.parametrize("content", [b"", b"text,label\n", b"\n\n"])
def test_empty_files(tmp_path, content):
    path = tmp_path / "data.csv"
    path.write_bytes(content)
    assert "empty" in error_of(path) or "no data rows" in error_of(path) or "blank" in error_of(path)


def test_non_utf8_gives_offset_line_and_iconv(tmp_path):
    path = tmp_path / "data.csv"
    path.write_bytes(b"text,label\nfine,pos\ncost \xa35,neg\n")
    message = error_of(path)
    assert "line 3" in message and "offset 25" in message and "0xa3" in message and "iconv" in message


@pytest.mark.parametrize(("line", "expected"), [("a,b,c", "has 3 fields"), ("a", "has 1 fields")])
def test_ragged_csv_row(tmp_path, line, expected):
    path = tmp_path / "data.csv"
    path.write_text(f"text,label\nok,pos\n{line}\n", encoding="utf-8")
    message = error_of(path)
    assert "line 3" in message and expected in message and "header (line 1) has 2" in message


def test_ragged_tsv_row(tmp_path):
    path = tmp_path / "data.tsv"
    path.write_text("text\tlabel\n\nok\tpos\nx\ty\tz\n", encoding="utf-8")
    assert "line 4 has 3 fields" in error_of(path)



def test_a_one_megabyte_text_is_read_and_the_csv_limit_is_left_as_it_was(tmp_path):
    path = tmp_path / "data.csv"
    long_text = "word " * 200_000
    path.write_text(f'text,label\n"{long_text}",pos\nshort,neg\n', encoding="utf-8")
    limit = csv.field_size_limit()
    read = read_table(path)
    assert read["text"].tolist() == [long_text, "short"] and csv.field_size_limit() == limit


@pytest.mark.parametrize("rest", ["bad,neg\n", "bad,neg\n" * 20_000], ids=["small", "over-the-old-limit"])
def test_a_quote_never_closed_is_named_with_its_line(tmp_path, rest):
    path = tmp_path / "data.csv"
    path.write_text(f'text,label\nfine,pos\ngood,"pos\n{rest}', encoding="utf-8")
    message = error_of(path)
    assert "line 3" in message and "never closed" in message and 'write a quote inside a quoted field twice' in message


@pytest.mark.parametrize(("name", "content", "said"), [
    ("data.csv", "text\tlabel\ngood, nice\tpos\nbad\tneg\n", "tab-separated"),
    ("data.tsv", "text,label\n\"good\tnice\",pos\nbad,neg\n", "comma-separated"),
])
def test_the_other_delimiter_is_read_when_the_header_has_only_it(tmp_path, caplog, name, content, said):
    path = tmp_path / name
    path.write_text(content, encoding="utf-8")
    with caplog.at_level(logging.WARNING, logger="finegrain"):
        read = read_table(path)
    assert read["label"].tolist() == ["pos", "neg"] and read["text"].tolist()[1] == "bad"
    assert f"{path} looks {said}" in caplog.text and "rename" in caplog.text


def test_a_header_with_both_delimiters_keeps_the_extensions(tmp_path):
    path = tmp_path / "data.csv"
    path.write_text("text,label\ta\nx,y\n", encoding="utf-8")
    assert list(read_table(path).columns) == ["text", "label\ta", "row"]

@pytest.mark.parametrize(("content", "expected"), [
    ('{"text": "a"}\n{"text": \n', "line 2 is not valid JSON"),
    ('{"text": "a"}\n\n["a", "b"]\n', "line 3 holds a JSON array"),
])
def test_bad_jsonl_line(tmp_path, content, expected):
    path = tmp_path / "data.jsonl"
    path.write_text(content, encoding="utf-8")
    assert expected in error_of(path)


def test_json_must_be_a_list_of_objects(tmp_path):
    path = tmp_path / "data.json"
    path.write_text(json.dumps({"text": ["a"], "label": ["b"]}), encoding="utf-8")
    assert "list of records" in error_of(path)
    path.write_text(json.dumps([{"text": "a"}, "b"]), encoding="utf-8")
    assert "record 2" in error_of(path)


def test_broken_parquet(tmp_path):
    path = tmp_path / "data.parquet"
    path.write_bytes(b"PAR1 this is not really parquet")
    assert "Parquet" in error_of(path)


def test_reserved_row_column_and_duplicate_header(tmp_path):
    path = tmp_path / "data.csv"
    path.write_text("row,text\n1,a\n", encoding="utf-8")
    assert "'row'" in error_of(path)
    path.write_text("text,text\na,b\n", encoding="utf-8")
    assert "appears twice" in error_of(path)


def test_require_columns_renames_and_keeps_rows(tmp_path):
    path = tmp_path / "reviews.csv"
    path.write_text("review,stars\ngood,5\nbad,1\n", encoding="utf-8")
    frame = require_columns(read_table(path), {"text": "review", "label": "stars"}, str(path))
    assert frame.to_dict("records") == [{"text": "good", "label": "5", "row": 1}, {"text": "bad", "label": "1", "row": 2}]


def test_require_columns_teaches(tmp_path):
    path = tmp_path / "reviews.csv"
    path.write_text("reviews,stars\ngood,5\n", encoding="utf-8")
    with pytest.raises(DataError) as caught:
        require_columns(read_table(path), {"text": "review", "label": "label"}, str(path))
    message = str(caught.value)
    assert "reviews.csv" in message and "Did you mean 'reviews'" in message
    assert "data.text=review" in message and "data.label=label" in message and "reviews, stars" in message


def test_require_columns_names_first_row_without_value(tmp_path):
    path = tmp_path / "data.jsonl"
    path.write_text('{"text": "a", "label": "x"}\n{"text": "b"}\n', encoding="utf-8")
    with pytest.raises(DataError, match="row 2"):
        require_columns(read_table(path), {"text": "text", "label": "label"}, str(path))


def labelled(counts: dict[str, int]) -> pd.DataFrame:
    labels = [label for label, count in counts.items() for _ in range(count)]
    return pd.DataFrame({"text": [f"t{i}" for i in range(len(labels))], "label": labels})


def test_stratified_split_keeps_every_class_and_is_deterministic():
    frame = labelled({"a": 500, "b": 30, "c": 2, "d": 1})
    rest, held = stratified_split(frame, "label", 0.1, seed=3)
    assert set(held["label"]) == {"a", "b", "c"} and set(rest["label"]) == {"a", "b", "c", "d"}
    assert len(rest) + len(held) == len(frame) and abs(len(held) - 53) <= 3
    assert not set(rest["text"]) & set(held["text"])
    assert list(held.index) == sorted(held.index)
    again = stratified_split(frame, "label", 0.1, seed=3)
    assert again[1].equals(held) and not stratified_split(frame, "label", 0.1, seed=4)[1].equals(held)


def test_plain_split_for_no_column_or_lists():
    frame = pd.DataFrame({"label": [["a", "b"], ["a"]] * 10})
    for column in (None, "label"):
        rest, held = stratified_split(frame, column, 0.25, seed=0)
        assert (len(rest), len(held)) == (15, 5)


def test_stratified_subsample_sizes_and_proportions():
    frame = labelled({"a": 600, "b": 300, "c": 100, "d": 1})
    sample = stratified_subsample(frame, "label", 100, seed=0)
    assert len(sample) == 100
    assert sample["label"].value_counts().to_dict() == {"a": 59, "b": 30, "c": 10, "d": 1}
    assert sample.equals(stratified_subsample(frame, "label", 100, seed=0))
    assert len(stratified_subsample(frame, "label", 2, seed=0)) == 4  # one per class
    assert len(stratified_subsample(frame, None, 7, seed=0)) == 7
    assert len(stratified_subsample(frame, "label", 5000, seed=0)) == len(frame)
